import Foundation

/// Why report files could not be written.
public enum OutputError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The output path exists and is not a directory.
    case notADirectory(path: String)
    /// The directory (or the nearest existing ancestor, if it is to be created) cannot be written.
    case notWritable(path: String)
    /// A staged file name is empty, contains `/`, or is `.`/`..`.
    case invalidFileName(String)
    /// Creating, writing or renaming a file failed.
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notADirectory(path): return "output path '\(path)' exists and is not a directory"
        case let .notWritable(path): return "output directory '\(path)' is not writable"
        case let .invalidFileName(name): return "invalid output file name '\(name)'"
        case let .writeFailed(path, reason): return "cannot write '\(path)': \(reason)"
        }
    }
}

/// Writes a file so that readers see either the old contents or the new, never a part:
/// the bytes go to a temporary file in the same directory (same file system), which is then
/// renamed over the destination with POSIX `rename(2)`, which is atomic.
public enum AtomicFile {
    /// Writes `contents` to `path` atomically.
    /// - Throws: ``OutputError/writeFailed(path:reason:)``; no temporary file is left behind.
    public static func write(_ contents: String, to path: String) throws(OutputError) {
        let temporary = try writeTemporary(Data(contents.utf8), besides: path)
        try moveIntoPlace(temporary, path)
    }

    /// The temporary sibling of `path` that ``write(_:to:)`` uses: hidden, unique per call.
    static func temporaryPath(besides path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let name = ".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))"
        return url.deletingLastPathComponent().appendingPathComponent(name).path
    }

    static func writeTemporary(_ data: Data, besides path: String) throws(OutputError) -> String {
        let temporary = temporaryPath(besides: path)
        do {
            try data.write(to: URL(fileURLWithPath: temporary), options: [.withoutOverwriting])
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw .writeFailed(path: path, reason: Self.reason(error))
        }
        return temporary
    }

    static func moveIntoPlace(_ temporary: String, _ path: String) throws(OutputError) {
        if rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw .writeFailed(path: path, reason: reason)
        }
    }

    static func reason(_ error: any Error) -> String {
        if let cocoa = error as? CocoaError, let underlying = cocoa.userInfo[NSUnderlyingErrorKey] as? NSError,
           underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return (error as NSError).localizedDescription
    }
}

/// The files of one run, held in memory until the run succeeds and then written together.
///
/// A failed run never calls ``commit()``, so it leaves no partial output. ``commit()`` itself
/// works in two phases: every file is first written to a temporary sibling; only if all
/// succeed are they renamed into place. If a write fails, the temporaries (and a directory
/// that commit created) are removed and existing files are untouched.
///
/// ```swift
/// var output = try OutputDirectory(path: "results")   // checks the path now, writes nothing
/// output.stage("trace.csv", csv.text)
/// try output.commit()                                  // results/trace.csv appears
/// ```
public struct OutputDirectory: Sendable {
    public let path: String
    /// Staged files in staging order (a name staged twice keeps its first position, last contents).
    public private(set) var files: [(name: String, contents: String)] = []

    /// Checks, without writing anything, that `path` is a writable directory or can be
    /// created as one (it must not be an existing file; its nearest existing ancestor must
    /// be a writable directory).
    public init(path: String) throws(OutputError) {
        self.path = path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw .notADirectory(path: path) }
            guard FileManager.default.isWritableFile(atPath: path) else { throw .notWritable(path: path) }
            return
        }
        var ancestor = URL(fileURLWithPath: path).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: ancestor.path, isDirectory: &isDirectory) {
            let parent = ancestor.deletingLastPathComponent()
            if parent.path == ancestor.path { break }
            ancestor = parent
        }
        guard isDirectory.boolValue else { throw .notADirectory(path: ancestor.path) }
        guard FileManager.default.isWritableFile(atPath: ancestor.path) else { throw .notWritable(path: ancestor.path) }
    }

    /// Holds `contents` to be written as `name` inside the directory at commit.
    public mutating func stage(_ name: String, _ contents: String) throws(OutputError) {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else { throw .invalidFileName(name) }
        if let i = files.firstIndex(where: { $0.name == name }) {
            files[i].contents = contents
        } else {
            files.append((name, contents))
        }
    }

    /// Creates the directory if needed and writes every staged file (see the type's
    /// description for the failure guarantees). Returns the paths written.
    @discardableResult
    public func commit() throws(OutputError) -> [String] {
        let manager = FileManager.default
        let created = !manager.fileExists(atPath: path)
        var firstCreated: String? = nil
        if created {
            // Remember the outermost directory we create, to remove it on failure.
            var url = URL(fileURLWithPath: path)
            while !manager.fileExists(atPath: url.deletingLastPathComponent().path) {
                url = url.deletingLastPathComponent()
            }
            firstCreated = url.path
            do {
                try manager.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw .writeFailed(path: path, reason: AtomicFile.reason(error))
            }
        }
        let base = URL(fileURLWithPath: path)
        var temporaries: [(temporary: String, destination: String)] = []
        func rollBack() {
            for t in temporaries { try? manager.removeItem(atPath: t.temporary) }
            if let firstCreated { try? manager.removeItem(atPath: firstCreated) }
        }
        for file in files {
            let destination = base.appendingPathComponent(file.name).path
            do {
                temporaries.append((try AtomicFile.writeTemporary(Data(file.contents.utf8), besides: destination), destination))
            } catch {
                rollBack()
                throw error
            }
        }
        for (i, t) in temporaries.enumerated() {
            do {
                try AtomicFile.moveIntoPlace(t.temporary, t.destination)
            } catch {
                for later in temporaries[(i + 1)...] { try? manager.removeItem(atPath: later.temporary) }
                throw error
            }
        }
        return temporaries.map(\.destination)
    }
}
