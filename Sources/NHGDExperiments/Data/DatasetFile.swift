import Foundation
import NHGDLinearAlgebra

/// The package's binary data format, **NHGDDATA version 1** (specified in Docs/data.md,
/// written by `Scripts/convert_datasets.py` and by ``Dataset/write(binaryTo:elementType:)``).
///
/// All integers are little-endian. A 64-byte header:
///
/// | offset | type | field |
/// | --- | --- | --- |
/// | 0 | 8 bytes | magic `NHGDDATA` |
/// | 8 | UInt32 | version (1) |
/// | 12 | UInt32 | element type: 1 = UInt8, 2 = Float64 (IEEE 754 binary64) |
/// | 16 | UInt64 | n, samples |
/// | 24 | UInt64 | d, features per sample |
/// | 32 | UInt32 | K, classes |
/// | 36 | UInt32 | byte length of the UTF-8 name |
/// | 40 | UInt32 | byte length of the UTF-8 label names, joined by `\n` |
/// | 44 | UInt32 | reserved (0) |
/// | 48 | UInt64 | payload byte length |
/// | 56 | UInt64 | FNV-1a 64 checksum of the payload |
///
/// then the payload: the name, the label names, the `n·d` features sample by sample (sample
/// `i`'s `d` values contiguous: exactly the column-major `d × n` layout of ``Dataset/features``),
/// and `n` labels as UInt16.
public enum DatasetFileFormat {
    /// The 8-byte magic at offset 0.
    public static let magic: [UInt8] = Array("NHGDDATA".utf8)
    /// The only version this library reads and writes.
    public static let version: UInt32 = 1
    /// Header size in bytes.
    public static let headerSize = 64
    /// File extension of the shipped files.
    public static let fileExtension = "nhgd"

    /// How feature values are stored.
    public enum ElementType: UInt32, Sendable {
        /// One byte per value, 0…255 (MNIST pixels); loaded as `Double` unchanged.
        case uint8 = 1
        /// Eight bytes per value, IEEE 754 binary64.
        case float64 = 2
        /// Bytes per stored value.
        public var byteCount: Int { self == .uint8 ? 1 : 8 }
    }

    /// 64-bit FNV-1a (Fowler–Noll–Vo) of `bytes`: `h ← (h ⊕ byte) · 0x100000001B3` from the
    /// offset basis `0xCBF29CE484222325`. Detects any single-byte change, and (unlike a sum)
    /// permutations of bytes.
    /// - Complexity: O(bytes.count), one multiply per byte.
    public static func fnv1a64(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return h
    }
}

extension Dataset {
    /// Loads a data set in the NHGDDATA format (see ``DatasetFileFormat``).
    /// - Throws: ``DataError/file(path:reason:)`` when the file is missing or unreadable,
    ///   too short for its header, has a wrong magic or unsupported version or element type,
    ///   is truncated or has trailing bytes, fails its checksum, or holds labels outside
    ///   `0..<K` or non-finite values.
    /// - Complexity: O(n·d), one pass for the checksum and one for the conversion.
    public static func load(binaryAt url: URL) throws -> Dataset {
        let file = url.lastPathComponent
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw DataError.file(path: url.path, reason: "no such file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw DataError.file(path: url.path, reason: "cannot read the file (\(error.localizedDescription))")
        }
        return try data.withUnsafeBytes { raw in try decode(raw, file: file) }
    }

    /// Decodes the bytes of an NHGDDATA file; `file` names it in errors.
    static func decode(_ raw: UnsafeRawBufferPointer, file: String) throws -> Dataset {
        func fail(_ reason: String) -> DataError { .file(path: file, reason: reason) }
        let headerSize = DatasetFileFormat.headerSize
        guard raw.count >= headerSize else {
            throw fail("truncated: \(raw.count) bytes, shorter than the \(headerSize)-byte header")
        }
        guard Array(raw[0..<8]) == DatasetFileFormat.magic else {
            throw fail("bad magic: not an NHGDDATA file")
        }
        func u32(_ offset: Int) -> UInt32 { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
        func u64(_ offset: Int) -> UInt64 { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
        let version = u32(8)
        guard version == DatasetFileFormat.version else {
            throw fail("unsupported version \(version) (this library reads version \(DatasetFileFormat.version))")
        }
        guard let elementType = DatasetFileFormat.ElementType(rawValue: u32(12)) else {
            throw fail("unknown element type \(u32(12)) (1 = UInt8, 2 = Float64)")
        }
        let n64 = u64(16), d64 = u64(24), k = Int(u32(32))
        let nameLength = Int(u32(36)), labelNamesLength = Int(u32(40))
        let payloadLength64 = u64(48), checksum = u64(56)
        // Bound the sizes before any arithmetic so a corrupt header cannot overflow.
        let limit: UInt64 = 1 << 40
        guard n64 < limit, d64 < limit, n64 * d64 < limit, payloadLength64 < limit else {
            throw fail("corrupt header: implausible sizes n = \(n64), d = \(d64), payload = \(payloadLength64) bytes")
        }
        let n = Int(n64), d = Int(d64)
        let expectedPayload = nameLength + labelNamesLength + n * d * elementType.byteCount + 2 * n
        guard Int(payloadLength64) == expectedPayload else {
            throw fail("corrupt header: payload length \(payloadLength64) does not match n = \(n), d = \(d), "
                       + "\(elementType) elements (expected \(expectedPayload) bytes)")
        }
        let available = raw.count - headerSize
        guard available >= expectedPayload else {
            throw fail("truncated: expected \(expectedPayload) payload bytes, found \(available)")
        }
        guard available == expectedPayload else {
            throw fail("\(available - expectedPayload) unexpected trailing bytes after the payload")
        }
        let payload = UnsafeRawBufferPointer(rebasing: raw[headerSize...])
        let actual = DatasetFileFormat.fnv1a64(payload)
        guard actual == checksum else {
            throw fail("bad checksum: the header says \(hex(checksum)), the payload hashes to \(hex(actual)) "
                       + "(the file is corrupt)")
        }
        var offset = 0
        let name = String(decoding: payload[offset..<(offset + nameLength)], as: UTF8.self)
        offset += nameLength
        let labelText = String(decoding: payload[offset..<(offset + labelNamesLength)], as: UTF8.self)
        offset += labelNamesLength
        let labelNames = labelText.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard k >= 1, labelNames.count == k else {
            throw fail("corrupt header: \(k) classes but \(labelNames.count) label names")
        }
        var features = Matrix(rows: d, columns: n)
        let count = n * d
        features.storage.withUnsafeMutableBufferPointer { dst in
            switch elementType {
            case .uint8:
                let src = payload.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self)
                for i in 0..<count { dst[i] = Double(src[i]) }
            case .float64:
                // Copy raw bytes (the payload is not 8-byte aligned), then fix the byte order.
                UnsafeMutableRawBufferPointer(dst).copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: payload[offset..<(offset + 8 * count)]))
                if UInt64(littleEndian: 1) != 1 {
                    for i in 0..<count { dst[i] = Double(bitPattern: UInt64(littleEndian: dst[i].bitPattern)) }
                }
            }
        }
        offset += count * elementType.byteCount
        var labels = [Int](repeating: 0, count: n)
        for i in 0..<n {
            let label = Int(UInt16(littleEndian: payload.loadUnaligned(fromByteOffset: offset + 2 * i, as: UInt16.self)))
            guard label < k else { throw fail("label \(label) of sample \(i) is outside 0..<\(k)") }
            labels[i] = label
        }
        if features.firstNonFiniteIndex != nil { throw fail("features contain NaN or infinity") }
        return Dataset(unchecked: name, features: features, labels: labels, classCount: k, labelNames: labelNames)
    }

    /// The NHGDDATA bytes of this data set (see ``DatasetFileFormat``).
    /// - Parameter elementType: `.uint8` requires every feature to be an integer in 0…255.
    /// - Throws: ``DataError/file(path:reason:)`` when a value does not fit `.uint8`, there are
    ///   more than 65,536 classes, or a label name contains a newline.
    public func encodedBinary(elementType: DatasetFileFormat.ElementType = .float64) throws -> Data {
        let n = sampleCount, d = featureCount
        guard classCount <= 1 << 16 else {
            throw DataError.file(path: name, reason: "\(classCount) classes do not fit the format's UInt16 labels")
        }
        guard !labelNames.contains(where: { $0.contains("\n") }) else {
            throw DataError.file(path: name, reason: "label names may not contain newlines")
        }
        let nameBytes = Array(name.utf8), labelBytes = Array(labelNames.joined(separator: "\n").utf8)
        var payload = [UInt8]()
        payload.reserveCapacity(nameBytes.count + labelBytes.count + n * d * elementType.byteCount + 2 * n)
        payload += nameBytes
        payload += labelBytes
        switch elementType {
        case .uint8:
            for value in features.storage {
                guard value >= 0, value <= 255, value.rounded() == value else {
                    throw DataError.file(path: name, reason: "feature value \(value) is not an integer in 0...255")
                }
                payload.append(UInt8(value))
            }
        case .float64:
            for value in features.storage {
                withUnsafeBytes(of: value.bitPattern.littleEndian) { payload += $0 }
            }
        }
        for label in labels {
            withUnsafeBytes(of: UInt16(label).littleEndian) { payload += $0 }
        }
        var header = [UInt8]()
        header.reserveCapacity(DatasetFileFormat.headerSize)
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { header += $0 } }
        header += DatasetFileFormat.magic
        put(DatasetFileFormat.version)
        put(elementType.rawValue)
        put(UInt64(n))
        put(UInt64(d))
        put(UInt32(classCount))
        put(UInt32(nameBytes.count))
        put(UInt32(labelBytes.count))
        put(UInt32(0))
        put(UInt64(payload.count))
        put(payload.withUnsafeBytes { DatasetFileFormat.fnv1a64($0) })
        return Data(header + payload)
    }

    /// Writes ``encodedBinary(elementType:)`` to `url` atomically.
    /// - Throws: as ``encodedBinary(elementType:)``, or ``DataError/file(path:reason:)`` when
    ///   the file cannot be written.
    public func write(binaryTo url: URL, elementType: DatasetFileFormat.ElementType = .float64) throws {
        let bytes = try encodedBinary(elementType: elementType)
        do {
            try bytes.write(to: url, options: .atomic)
        } catch {
            throw DataError.file(path: url.path, reason: "cannot write the file (\(error.localizedDescription))")
        }
    }
}

private func hex(_ value: UInt64) -> String {
    "0x" + String(value, radix: 16, uppercase: true)
}
