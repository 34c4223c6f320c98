/// Appends the fields of a checkpoint as little-endian bytes: integers as 64 bits, doubles as
/// their IEEE 754 bit patterns (so every value, NaN payloads and signed zeros included, reads
/// back bit for bit), arrays as a count and then their elements.
public struct CheckpointWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []

    public init(reservingCapacity capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    public mutating func write(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
    public mutating func write(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
    public mutating func write(_ value: Int) { write(UInt64(bitPattern: Int64(value))) }
    public mutating func write(_ value: Double) { write(value.bitPattern) }
    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    /// UTF-8 bytes after their count.
    public mutating func write(_ value: String) {
        let utf8 = Array(value.utf8)
        write(utf8.count)
        bytes.append(contentsOf: utf8)
    }

    /// The count, then the bit patterns (one bulk copy on little-endian machines).
    public mutating func write(_ values: [Double]) {
        write(values.count)
        appendDoubles(values[...])
    }

    /// The leading `count` elements of `values`, without a count (the reader knows it).
    public mutating func writeElements(_ values: ArraySlice<Double>) { appendDoubles(values) }

    public mutating func write(_ values: [Int]) {
        write(values.count)
        for v in values { write(v) }
    }

    /// A presence flag, then the array.
    public mutating func write(_ values: [Double]?) {
        write(values != nil)
        if let values { write(values) }
    }

    private mutating func appendDoubles(_ values: ArraySlice<Double>) {
        #if _endian(little)
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        #else
        for v in values { write(v.bitPattern) }
        #endif
    }
}

/// Reads what ``CheckpointWriter`` wrote. Every read checks that the bytes are there, and a
/// count is checked against the bytes left before anything is allocated, so hostile input
/// costs at most its own size and ends in a ``CheckpointError``, never a trap.
public struct CheckpointReader: Sendable {
    private let bytes: [UInt8]
    /// The next byte to read.
    public private(set) var offset: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    /// Bytes not read yet.
    public var remaining: Int { bytes.count - offset }

    private mutating func take(_ n: Int) throws(CheckpointError) -> Range<Int> {
        guard n >= 0, n <= remaining else { throw .truncated(needed: n, available: remaining) }
        defer { offset += n }
        return offset..<(offset + n)
    }

    public mutating func readUInt64() throws(CheckpointError) -> UInt64 {
        let range = try take(8)
        var v: UInt64 = 0
        for i in range.reversed() { v = v << 8 | UInt64(bytes[i]) }
        return v
    }

    public mutating func readUInt32() throws(CheckpointError) -> UInt32 {
        let range = try take(4)
        var v: UInt32 = 0
        for i in range.reversed() { v = v << 8 | UInt32(bytes[i]) }
        return v
    }

    public mutating func readInt() throws(CheckpointError) -> Int {
        let v = Int64(bitPattern: try readUInt64())
        guard let i = Int(exactly: v) else { throw .malformed("integer \(v) out of range") }
        return i
    }

    /// An integer in `range`, naming the field when it is not.
    public mutating func readInt(in range: ClosedRange<Int>, _ field: String) throws(CheckpointError) -> Int {
        let v = try readInt()
        guard range.contains(v) else { throw .malformed("\(field) \(v) outside \(range.lowerBound)…\(range.upperBound)") }
        return v
    }

    public mutating func readDouble() throws(CheckpointError) -> Double { Double(bitPattern: try readUInt64()) }

    public mutating func readBool() throws(CheckpointError) -> Bool {
        let range = try take(1)
        switch bytes[range.lowerBound] {
        case 0: return false
        case 1: return true
        case let b: throw .malformed("boolean byte \(b)")
        }
    }

    public mutating func readString() throws(CheckpointError) -> String {
        let count = try readCount(elementSize: 1, "string length")
        let range = try take(count)
        return String(decoding: bytes[range], as: UTF8.self)
    }

    /// A count of elements of `elementSize` bytes that must fit in what is left.
    public mutating func readCount(elementSize: Int, _ field: String) throws(CheckpointError) -> Int {
        let n = try readInt()
        guard n >= 0 else { throw .malformed("\(field) \(n) is negative") }
        guard n <= remaining / elementSize else { throw .truncated(needed: n.multipliedReportingOverflow(by: elementSize).partialValue, available: remaining) }
        return n
    }

    /// An array of doubles; `count` (when given) is the length it must have.
    public mutating func readDoubles(count expected: Int? = nil, _ field: String) throws(CheckpointError) -> [Double] {
        let n = try readCount(elementSize: 8, field)
        if let expected, n != expected { throw .malformed("\(field) has \(n) elements, expected \(expected)") }
        return try readElements(n)
    }

    /// `n` doubles written by ``CheckpointWriter/writeElements(_:)``.
    public mutating func readElements(_ n: Int) throws(CheckpointError) -> [Double] {
        let (size, overflow) = n.multipliedReportingOverflow(by: 8)
        guard !overflow else { throw .malformed("element count \(n)") }
        let range = try take(size)
        var values = [Double](repeating: 0, count: n)
        #if _endian(little)
        values.withUnsafeMutableBytes { target in
            bytes.withUnsafeBytes { source in
                target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[range]))
            }
        }
        #else
        var reader = CheckpointReader(Array(bytes[range]))
        for i in 0..<n { values[i] = Double(bitPattern: try reader.readUInt64()) }
        #endif
        return values
    }

    public mutating func readInts(count expected: Int? = nil, _ field: String) throws(CheckpointError) -> [Int] {
        let n = try readCount(elementSize: 8, field)
        if let expected, n != expected { throw .malformed("\(field) has \(n) elements, expected \(expected)") }
        var values: [Int] = []
        values.reserveCapacity(n)
        for _ in 0..<n { values.append(try readInt()) }
        return values
    }

    public mutating func readOptionalDoubles(count: Int? = nil, _ field: String) throws(CheckpointError) -> [Double]? {
        try readBool() ? try readDoubles(count: count, field) : nil
    }

    /// Throws unless every byte was read.
    public func expectEnd() throws(CheckpointError) {
        if remaining != 0 { throw .malformed("\(remaining) bytes after the end of the state") }
    }
}
