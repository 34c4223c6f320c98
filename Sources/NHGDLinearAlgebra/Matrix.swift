/// A dense, column-major matrix of `Double`s: the storage every BLAS/LAPACK wrapper here uses.
///
/// Element `(i, j)` lives at `storage[i + j * rows]`, so column `j` is the contiguous slice
/// `storage[j*rows ..< (j+1)*rows]`. A block of `b` vectors of length `p` (per-sample
/// gradients, right-hand sides) is a `p × b` matrix. Value semantics come from `Array`'s
/// copy-on-write.
public struct Matrix: Equatable, Sendable {
    /// Number of rows.
    public private(set) var rows: Int
    /// Number of columns.
    public private(set) var columns: Int
    /// Column-major elements, `rows * columns` of them.
    public var storage: [Double]

    /// A `rows × columns` matrix filled with `value`.
    public init(rows: Int, columns: Int, repeating value: Double = 0) {
        precondition(rows >= 0 && columns >= 0, "Matrix dimensions must be non-negative")
        self.rows = rows
        self.columns = columns
        self.storage = Array(repeating: value, count: rows * columns)
    }

    /// Wraps column-major `storage`; throws if its length is not `rows * columns`.
    public init(rows: Int, columns: Int, storage: [Double]) throws {
        guard rows >= 0, columns >= 0, storage.count == rows * columns else {
            throw LinearAlgebraError.dimensionMismatch(
                operation: "Matrix.init", expected: "\(rows)×\(columns) = \(rows * columns) elements",
                actual: "\(storage.count) elements")
        }
        self.rows = rows
        self.columns = columns
        self.storage = storage
    }

    /// A matrix whose `j`-th column is `columns[j]`; all columns must have one length.
    public init(columns: [[Double]]) throws {
        let rows = columns.first?.count ?? 0
        for (j, column) in columns.enumerated() where column.count != rows {
            throw LinearAlgebraError.dimensionMismatch(
                operation: "Matrix.init(columns:)", expected: "column \(j) of length \(rows)",
                actual: "length \(column.count)")
        }
        self.rows = rows
        self.columns = columns.count
        self.storage = columns.flatMap { $0 }
    }

    /// The `n × n` identity.
    public static func identity(_ n: Int) -> Matrix {
        var m = Matrix(rows: n, columns: n)
        for i in 0..<n { m.storage[i + i * n] = 1 }
        return m
    }

    /// A square matrix with `diagonal` on its diagonal.
    public static func diagonal(_ diagonal: [Double]) -> Matrix {
        let n = diagonal.count
        var m = Matrix(rows: n, columns: n)
        for i in 0..<n { m.storage[i + i * n] = diagonal[i] }
        return m
    }

    /// Element access (no bounds check beyond `Array`'s).
    @inlinable
    public subscript(row: Int, column: Int) -> Double {
        get { storage[row + column * rows] }
        set { storage[row + column * rows] = newValue }
    }

    /// Copy of column `j`.
    public func column(_ j: Int) -> [Double] {
        Array(storage[(j * rows)..<((j + 1) * rows)])
    }

    /// The transpose, as a new matrix.
    /// - Complexity: O(rows · columns).
    public var transposed: Matrix {
        var t = Matrix(rows: columns, columns: rows)
        for j in 0..<columns {
            for i in 0..<rows { t.storage[j + i * columns] = storage[i + j * rows] }
        }
        return t
    }

    /// The leading `count` columns (a thin view copied out).
    public func leadingColumns(_ count: Int) -> Matrix {
        precondition(count >= 0 && count <= columns)
        var m = Matrix(rows: rows, columns: count)
        m.storage.withUnsafeMutableBufferPointer { dst in
            storage.withUnsafeBufferPointer { src in
                for i in 0..<(rows * count) { dst[i] = src[i] }
            }
        }
        return m
    }

    /// Copies the columns `indices` of `self` into the leading columns of `destination`
    /// (`destination.rows == rows`, at least `indices.count` columns). Indices must lie in
    /// `0..<columns` (a precondition).
    /// - Complexity: O(rows · indices.count), one contiguous copy per column.
    public func gatherColumns(_ indices: some Collection<Int>, into destination: inout Matrix) {
        precondition(destination.rows == rows && destination.columns >= indices.count, "gatherColumns: shapes")
        if rows == 0 { return }
        storage.withUnsafeBufferPointer { src in
            destination.storage.withUnsafeMutableBufferPointer { dst in
                for (j, i) in indices.enumerated() {
                    precondition(i >= 0 && i < columns, "gatherColumns: index \(i) out of 0..<\(columns)")
                    (dst.baseAddress! + j * rows).update(from: src.baseAddress! + i * rows, count: rows)
                }
            }
        }
    }

    /// Changes the shape in place, keeping leading columns and zero-filling new ones.
    /// Used by streaming objects that reuse one allocation for a varying number of columns.
    public mutating func resizeColumns(to count: Int) {
        precondition(count >= 0)
        let newCount = rows * count
        if newCount < storage.count {
            storage.removeLast(storage.count - newCount)
        } else if newCount > storage.count {
            storage.append(contentsOf: repeatElement(0, count: newCount - storage.count))
        }
        columns = count
    }

    /// Runs `body` on this matrix's storage viewed as a `rows × columns` matrix (same element
    /// count), without copying: the storage is moved into the view and back. A p × s block of
    /// vectors `vec(Y_j)`, `Y_j` d × K, is the d × Ks matrix `[Y₁ … Y_s]`.
    public mutating func withReshaped<T>(rows newRows: Int, columns newColumns: Int,
                                         _ body: (inout Matrix) throws -> T) rethrows -> T {
        precondition(newRows >= 0 && newColumns >= 0 && newRows * newColumns == rows * columns,
                     "withReshaped: element counts differ")
        var view = Matrix(rows: newRows, columns: newColumns, movingStorage: &storage)
        defer { storage = view.storage }
        return try body(&view)
    }

    private init(rows: Int, columns: Int, movingStorage source: inout [Double]) {
        self.rows = rows
        self.columns = columns
        self.storage = []
        swap(&self.storage, &source)
    }

    /// Index of the first non-finite element, or `nil` when all are finite.
    public var firstNonFiniteIndex: Int? {
        storage.firstNonFiniteIndex
    }

    /// Bytes of element storage.
    public var byteCount: Int { storage.count * MemoryLayout<Double>.stride }
}

extension Matrix {
    /// Index (into ``storage``) of the first non-finite element in the columns `columns`, or
    /// `nil` when they are all finite.
    /// - Complexity: one read of those columns at memory bandwidth.
    public func firstNonFiniteIndex(inColumns columns: Range<Int>) -> Int? {
        precondition(columns.lowerBound >= 0 && columns.upperBound <= self.columns, "column range out of bounds")
        let start = columns.lowerBound * rows
        return storage.withUnsafeBufferPointer { buffer in
            UnsafeBufferPointer(rebasing: buffer[start..<(columns.upperBound * rows)]).firstNonFiniteIndex.map { $0 + start }
        }
    }
}

extension Array where Element == Double {
    /// Index of the first NaN or ±∞, or `nil` when every element is finite (see
    /// `UnsafeBufferPointer.firstNonFiniteIndex`).
    /// - Complexity: O(count), one read of the array at memory bandwidth.
    @inlinable
    public var firstNonFiniteIndex: Int? {
        withUnsafeBufferPointer { $0.firstNonFiniteIndex }
    }
}

extension UnsafeBufferPointer where Element == Double {
    /// Index of the first NaN or ±∞, or `nil` when every element is finite.
    ///
    /// `x·0` is 0 for finite x and NaN for NaN or ±∞, and NaN survives any sum, so a sum of
    /// `x·0` is 0 exactly when every element is finite. That sum runs in two independent
    /// 8-lane accumulators (no reassociation of a strict floating-point reduction is needed,
    /// so it vectorises; about 5× faster than a scalar loop on a block of gradients), and only
    /// when it is not 0 does a scalar scan find the index.
    /// - Complexity: O(count), one read at memory bandwidth.
    @inlinable
    public var firstNonFiniteIndex: Int? {
        guard let start = baseAddress else { return nil }
        let raw = UnsafeRawPointer(start), stride = MemoryLayout<Double>.stride
        var even = SIMD8<Double>(), odd = SIMD8<Double>()
        var i = 0
        while i + 16 <= count {
            even += raw.loadUnaligned(fromByteOffset: i * stride, as: SIMD8<Double>.self) * 0
            odd += raw.loadUnaligned(fromByteOffset: (i + 8) * stride, as: SIMD8<Double>.self) * 0
            i += 16
        }
        var probe = (even + odd).sum()
        while i < count { probe += self[i] * 0; i += 1 }
        if probe == 0 { return nil }
        return firstIndex { !$0.isFinite }
    }
}
