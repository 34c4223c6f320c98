/// A `--resume` checkpoint that cannot be used: missing or unreadable, not a checkpoint, of
/// another format version, truncated, corrupt (checksum), or written by another command line
/// (``RunConfiguration/checkpointIdentity``) or problem. Found before the first outer
/// iteration; the tool prints ``description`` as its one line and exits with status 2, and
/// nothing is changed (not the checkpoint, not `--output`).
public struct CheckpointRejection: Error, Equatable, CustomStringConvertible {
    public var path: String
    /// What is wrong, in one line (a ``CheckpointError``'s description or the system's reason).
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "cannot resume from '\(path)': \(reason)" }
}
