/// Why a checkpoint could not be written or read back. Every case is detected before anything
/// the reader restores into is changed, and each describes itself in one line.
///
/// One error type for the checkpoint format across the layers (the linear algebra, the
/// sketches, the optimiser and the tool read and write parts of the same file).
public enum CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The bytes do not start with the checkpoint magic.
    case notACheckpoint
    /// Written by another version of the format.
    case unsupportedVersion(found: UInt32, supported: UInt32)
    /// Fewer bytes than the header or a field announces.
    case truncated(needed: Int, available: Int)
    /// The payload's checksum does not match: the file was changed or damaged.
    case checksumMismatch(stored: UInt64, computed: UInt64)
    /// The checkpoint belongs to another problem or configuration.
    case configurationMismatch(String)
    /// A field whose value cannot belong to a valid state (a count out of range, an unknown tag,
    /// trailing bytes).
    case malformed(String)
    /// The state cannot be checkpointed (say why).
    case unsupported(String)

    public var description: String {
        switch self {
        case .notACheckpoint: return "not an nhgd checkpoint (bad magic)"
        case let .unsupportedVersion(found, supported):
            return "checkpoint format version \(found), this build reads version \(supported)"
        case let .truncated(needed, available):
            return "checkpoint is truncated (a part of \(needed) bytes has only \(available))"
        case let .checksumMismatch(stored, computed):
            return "checkpoint is corrupt (checksum \(hex(stored)) stored, \(hex(computed)) computed)"
        case let .configurationMismatch(detail): return "checkpoint is of another run: \(detail)"
        case let .malformed(detail): return "checkpoint is malformed: \(detail)"
        case let .unsupported(detail): return "cannot checkpoint: \(detail)"
        }
    }
}

private func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
