/// The container every checkpoint is written in: a fixed header, then a payload covered by a
/// checksum.
///
/// ```
/// offset  size  field
///      0     8  magic "NHGDCKPT"
///      8     4  format version (little-endian UInt32, currently 1)
///     12     4  reserved, 0
///     16     8  payload length in bytes (UInt64)
///     24     8  FNV-1a 64 checksum of the payload
///     32     …  payload: the identity string (what run it belongs to), then the state
/// ```
///
/// A reader checks, in this order, the magic, the version, the length (a shorter file is
/// truncated, a longer one malformed), the checksum and the identity, and only then hands the
/// state to whoever restores it; each failure is one ``CheckpointError``.
public enum CheckpointFile {
    public static let magic: [UInt8] = Array("NHGDCKPT".utf8)
    public static let version: UInt32 = 1
    public static let headerSize = 32

    /// The file's bytes for `identity` and the state `body` writes.
    public static func encode(identity: String, reservingCapacity: Int = 0,
                              _ body: (inout CheckpointWriter) throws -> Void) rethrows -> [UInt8] {
        var payload = CheckpointWriter(reservingCapacity: reservingCapacity)
        payload.write(identity)
        try body(&payload)
        var file = Array(magic)
        file.reserveCapacity(headerSize + payload.bytes.count)
        var fields = CheckpointWriter()
        fields.write(version)
        fields.write(UInt32(0))
        fields.write(UInt64(payload.bytes.count))
        fields.write(FNV1a64.hash(payload.bytes))
        file.append(contentsOf: fields.bytes)
        file.append(contentsOf: payload.bytes)
        return file
    }

    /// Checks the header, the checksum and the identity, and returns the identity read and a
    /// reader positioned at the state.
    /// - Parameter expectedIdentity: when given, a different stored identity is a
    ///   ``CheckpointError/configurationMismatch(_:)`` naming the first field that differs.
    public static func open(_ bytes: [UInt8], expectedIdentity: String? = nil) throws(CheckpointError)
        -> (identity: String, state: CheckpointReader) {
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else {
            if bytes.count < magic.count, Array(magic[0..<bytes.count]) == bytes {
                throw .truncated(needed: headerSize, available: bytes.count)
            }
            throw .notACheckpoint
        }
        var header = CheckpointReader(bytes, offset: magic.count)
        let found = try header.readUInt32()
        guard found == version else { throw .unsupportedVersion(found: found, supported: version) }
        _ = try header.readUInt32()
        let length = try header.readUInt64()
        let stored = try header.readUInt64()
        let available = bytes.count - headerSize
        guard length <= UInt64(Int.max), Int(length) <= available else {
            throw .truncated(needed: length <= UInt64(Int.max) ? Int(length) : Int.max, available: available)
        }
        guard Int(length) == available else { throw .malformed("\(available - Int(length)) bytes after the payload") }
        let computed = FNV1a64.hash(bytes[headerSize...])
        guard computed == stored else { throw .checksumMismatch(stored: stored, computed: computed) }
        var state = CheckpointReader(bytes, offset: headerSize)
        let identity = try state.readString()
        if let expectedIdentity, identity != expectedIdentity {
            throw .configurationMismatch(Self.difference(stored: identity, expected: expectedIdentity))
        }
        return (identity, state)
    }

    /// Identities are `key=value` fields separated by `;`: the first field that differs, in
    /// one line.
    static func difference(stored: String, expected: String) -> String {
        func fields(_ s: String) -> [(String, String)] {
            s.split(separator: ";").map { part in
                let kv = part.split(separator: "=", maxSplits: 1)
                return (String(kv.first ?? ""), kv.count > 1 ? String(kv[1]) : "")
            }
        }
        let a = fields(stored), b = fields(expected)
        let storedByKey = Dictionary(a, uniquingKeysWith: { x, _ in x })
        for (key, value) in b where storedByKey[key] != value {
            let was = storedByKey[key].map { "'\(oneLine($0))'" } ?? "absent"
            return "\(oneLine(key)) is '\(oneLine(value))' here but \(was) in the checkpoint"
        }
        return "its identity differs ('\(oneLine(stored))')"
    }

    /// At most 160 characters of `text` with control characters escaped (`\u{A}`): an
    /// identity read from a damaged file may hold anything, and an error stays one line.
    static func oneLine(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars.prefix(160) {
            if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar == "\u{2028}" || scalar == "\u{2029}" {
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return text.unicodeScalars.count > 160 ? out + "…" : out
    }
}

/// FNV-1a, 64 bits (Fowler, Noll, Vo): a simple checksum that catches damaged or edited
/// checkpoints (any single changed byte changes it). Not a cryptographic hash.
public enum FNV1a64 {
    public static func hash<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h &*= 0x0000_0100_0000_01b3
        }
        return h
    }
}
