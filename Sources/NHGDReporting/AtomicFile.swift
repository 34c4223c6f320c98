import Foundation

/// Writes one file so that readers see either the old contents or the new, never a part: the
/// bytes go to a temporary file in the same directory (same file system) and are flushed to
/// disk (`fsync`), the temporary is renamed over the destination with `rename(2)`, which is
/// atomic, and the directory is flushed so that the rename survives a crash. For several files
/// that must change together, use ``OutputDirectory``.
public enum AtomicFile {
    /// Writes `contents` to `path` atomically and durably.
    /// - Throws: ``OutputError/writeFailed(path:reason:)``; no temporary file is left behind.
    public static func write(_ contents: String, to path: String) throws(OutputError) {
        try write(Array(contents.utf8), to: path)
    }

    /// Writes `bytes` to `path` atomically and durably (checkpoints).
    /// - Throws: ``OutputError/writeFailed(path:reason:)``; no temporary file is left behind.
    public static func write(_ bytes: [UInt8], to path: String) throws(OutputError) {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let temporary = directory + "/" + FileSystemCalls.temporaryName(for: url.lastPathComponent, kind: "tmp")
        try TerminationSignals.deferring { () throws(OutputError) in
            if let code = FileSystemCalls.writeNewFile(bytes, at: temporary) {
                throw .writeFailed(path: path, reason: FileSystemCalls.reason(code))
            }
            if let code = FileSystemCalls.rename(temporary, path) {
                unlink(temporary)
                throw .writeFailed(path: path, reason: FileSystemCalls.reason(code))
            }
            _ = FileSystemCalls.syncDirectory(directory)
        }
    }
}
