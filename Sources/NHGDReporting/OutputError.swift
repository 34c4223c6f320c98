/// Why report files could not be written, or will not be: ``OutputDirectory/init(path:fileNames:)``
/// throws the first five before a run starts (a tool reports them as a bad command line),
/// ``OutputDirectory/commit()`` any of them after it.
public enum OutputError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The output path (or one of its ancestors) exists and is not a directory.
    case notADirectory(path: String)
    /// The output path is a symbolic link whose target does not exist.
    case danglingSymbolicLink(path: String, target: String)
    /// Nothing can be created in this directory (the parent of the output directory, or its
    /// nearest existing ancestor): `reason` is the system's, from a probe that tried.
    case notWritable(path: String, reason: String)
    /// The output directory cannot be replaced as a whole: `/`, or a mount point.
    case cannotReplace(path: String, reason: String)
    /// An entry that a staged file would replace is a directory.
    case notAFile(path: String)
    /// A staged file name is empty, contains `/`, or is `.`/`..`.
    case invalidFileName(String)
    /// Creating, writing, flushing or renaming failed; nothing was changed.
    case writeFailed(path: String, reason: String)
    /// The new files are in place, but tidying up after them failed: `path` (a temporary
    /// directory beside the output) still holds what `reason` says.
    case leftBehind(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notADirectory(path): return "output path '\(path)' exists and is not a directory"
        case let .danglingSymbolicLink(path, target):
            return "output path '\(path)' is a symbolic link to '\(target)', which does not exist"
        case let .notWritable(path, reason): return "cannot create files in '\(path)': \(reason)"
        case let .cannotReplace(path, reason): return "cannot replace output directory '\(path)': \(reason)"
        case let .notAFile(path): return "output file '\(path)' exists and is a directory"
        case let .invalidFileName(name): return "invalid output file name '\(name)'"
        case let .writeFailed(path, reason): return "cannot write '\(path)': \(reason)"
        case let .leftBehind(path, reason): return "the output was written, but '\(path)' was left behind: \(reason)"
        }
    }
}
