import Foundation

/// The files of one run, held in memory until the run succeeds and then put in place together:
/// a directory D that holds either the previous set or the new one, never a mixture, never a
/// part, and no temporaries.
///
/// ```swift
/// var output = try OutputDirectory(path: "results", fileNames: ["trace.csv"])  // checks now, writes nothing
/// try output.stage("trace.csv", csv.text)
/// try output.commit()                                                          // results/trace.csv appears
/// ```
///
/// ## Before the run
///
/// ``init(path:fileNames:)`` checks everything that can be checked without writing the files,
/// so that a tool can refuse a bad `--output` at once rather than after the run: D must be a
/// directory or not exist (a file, a path through a file such as `FILE/`, or a symbolic link to
/// nothing is refused); nothing named like a file to be written may be a directory inside it;
/// D must not be `/` or a mount point; and entries must be creatable where the commit will
/// create them (in D's parent, or in the nearest existing ancestor when D is to be created),
/// which is tested by creating and removing a probe directory there (so `/proc/foo` or a
/// read-only mount are refused whatever the permission bits say).
///
/// ## What a commit promises
///
/// - **One set at every instant.** ``commit()`` writes every staged file into a new directory
///   beside D (`.D.tmp-…` in D's parent: the same file system), flushes each file and that
///   directory to disk, and then puts it in D's place with one atomic call:
///   `renameat2(RENAME_EXCHANGE)` with the existing D, or `rename(2)` when D does not exist
///   yet. At every instant the path D names the previous directory or the new one, complete; a
///   reader who opens D (or has it as its working directory) and reads the files from there reads
///   one set. (A reader who opens `D/trace.csv` and later `D/trace.json` by path can, like with
///   any replacement, straddle a commit.) On a file system that cannot exchange (`EINVAL`), the
///   previous D is renamed aside first: for the instant between the two renames D is absent,
///   never mixed.
/// - **Other entries of D are kept, never copied or deleted.** Files and symbolic links the run
///   does not write are hard-linked into the new directory before the exchange, so they never
///   leave D; subdirectories (which cannot be hard-linked) are moved back by one `rename` each
///   just after it. Only the previous versions of the staged files are deleted. D keeps its
///   permission bits (a new D gets `0777 & ~umask`, as `mkdir` gives); a D that is a symbolic
///   link is followed: the directory it points to is replaced and the link kept.
/// - **A failure changes nothing.** If any step up to the exchange fails (a full disk, a name
///   that is now a directory, a permission), the temporary directory and any ancestor the commit
///   created are removed, and D is as it was.
/// - **No temporaries, also on Ctrl-C.** SIGINT, SIGTERM and SIGHUP arriving during a commit are
///   held until it has finished or rolled back, then take effect (``TerminationSignals``). Only
///   SIGKILL or a power loss during a commit can leave a `.D.tmp-…` directory beside D; D itself
///   is then the previous or the new set, complete.
/// - **Durable.** When ``commit()`` returns, the files, the new directory and the rename in the
///   parent have been flushed with `fsync`.
///
/// A process whose working directory is D keeps the previous directory (removed once tidied)
/// until it changes directory again: that is what "a reader who has D open reads one set" means.
public struct OutputDirectory: Sendable {
    /// The directory, as given.
    public let path: String
    /// Staged files in staging order (a name staged twice keeps its first position, last contents).
    public private(set) var files: [(name: String, contents: String)] = []

    /// Checks, without writing anything, that a commit of files named `fileNames` can succeed
    /// (see "Before the run" in the type's description).
    /// - Throws: ``OutputError/notADirectory(path:)``, ``OutputError/danglingSymbolicLink(path:target:)``,
    ///   ``OutputError/cannotReplace(path:reason:)``, ``OutputError/notAFile(path:)``,
    ///   ``OutputError/notWritable(path:reason:)``, ``OutputError/invalidFileName(_:)``.
    public init(path: String, fileNames: [String] = []) throws(OutputError) {
        self.path = path
        for name in fileNames { try Self.checkName(name) }
        let location = try OutputLocation(of: path)
        try location.checkNoDirectory(named: fileNames, shownAs: path)
        try location.checkCreatable()
    }

    /// Holds `contents` to be written as `name` inside the directory at commit.
    public mutating func stage(_ name: String, _ contents: String) throws(OutputError) {
        try Self.checkName(name)
        if let i = files.firstIndex(where: { $0.name == name }) {
            files[i].contents = contents
        } else {
            files.append((name, contents))
        }
    }

    private static func checkName(_ name: String) throws(OutputError) {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != "..", !name.utf8.contains(0) else {
            throw .invalidFileName(name)
        }
    }

    /// Puts every staged file in place at once (see the type's description for the promise).
    /// Returns the paths written.
    /// - Throws: the errors of ``init(path:fileNames:)`` if the location changed during the run,
    ///   ``OutputError/writeFailed(path:reason:)`` when a step up to the exchange failed (D is
    ///   unchanged, nothing is left behind), ``OutputError/leftBehind(path:reason:)`` in the
    ///   unlikely case that the new set is in place but the previous directory could not be
    ///   emptied (it then holds what could not be moved back; nothing was deleted).
    @discardableResult
    public func commit() throws(OutputError) -> [String] {
        try TerminationSignals.deferring { () throws(OutputError) in try commitHoldingSignals() }
        return files.map { URL(fileURLWithPath: path).appendingPathComponent($0.name).path }
    }

    private func commitHoldingSignals() throws(OutputError) {
        // The world may have changed during the run: resolve and check again.
        let location = try OutputLocation(of: path)
        let names = files.map(\.name)
        try location.checkNoDirectory(named: names, shownAs: path)
        let staged = try stage(at: location)
        let previous = try swap(staged, into: location)
        _ = FileSystemCalls.syncDirectory(location.parent)
        if let previous {
            try tidy(previous, into: location.directory, replaced: Set(names), linked: staged.linked, moving: staged.laterMoves)
        }
    }

    /// What phase one built: the temporary directory and how D's other entries get into it.
    private struct Staged {
        var directory: String
        /// Entries of D hard-linked into the temporary directory.
        var linked: Set<String>
        /// Entries of D to move into the new directory after the exchange (subdirectories, and
        /// files that could not be linked).
        var laterMoves: [String]
        /// Ancestors created for the parent, outermost first.
        var createdAncestors: [String]
    }

    /// Phase one: everything before the exchange. On failure it removes what it made.
    private func stage(at location: OutputLocation) throws(OutputError) -> Staged {
        var staged = Staged(directory: "", linked: [], laterMoves: [], createdAncestors: [])
        func fail(_ where: String, _ code: Int32) -> OutputError {
            // Remove only what this commit created: its files and links, then the directories.
            if !staged.directory.isEmpty {
                for name in FileSystemCalls.names(in: staged.directory) ?? [] { unlink(staged.directory + "/" + name) }
                rmdir(staged.directory)
            }
            for ancestor in staged.createdAncestors.reversed() { rmdir(ancestor) }
            return .writeFailed(path: `where`, reason: FileSystemCalls.reason(code))
        }
        for ancestor in location.missingAncestors {
            if mkdir(ancestor, 0o777) != 0 { throw fail(ancestor, errno) }
            staged.createdAncestors.append(ancestor)
        }
        let temporary = location.parent + "/" + FileSystemCalls.temporaryName(for: location.name, kind: "tmp")
        if mkdir(temporary, 0o777) != 0 { throw fail(path, errno) }
        staged.directory = temporary
        if let mode = location.mode, chmod(temporary, mode) != 0 { throw fail(path, errno) }
        for file in files {
            if let code = FileSystemCalls.writeNewFile(Array(file.contents.utf8), at: temporary + "/" + file.name) {
                throw fail(OutputLocation.joined(path, file.name), code)
            }
        }
        if location.exists {
            guard let entries = FileSystemCalls.names(in: location.directory) else { throw fail(path, errno) }
            let names = Set(files.map(\.name))
            for entry in entries where !names.contains(entry) {
                let source = location.directory + "/" + entry
                if case .directory = FileSystemCalls.entry(source, followingLinks: false) {
                    staged.laterMoves.append(entry)
                } else if link(source, temporary + "/" + entry) == 0 {  // Linux's link(2) does not follow a symbolic link
                    staged.linked.insert(entry)
                } else {
                    staged.laterMoves.append(entry)
                }
            }
        }
        if let code = FileSystemCalls.syncDirectory(temporary) { throw fail(path, code) }
        return staged
    }

    /// The atomic step: the staged directory takes D's place. Returns where the previous D now
    /// is (to be tidied), `nil` when there was none. On failure nothing has changed.
    private func swap(_ staged: Staged, into location: OutputLocation) throws(OutputError) -> String? {
        func fail(_ code: Int32) -> OutputError {
            for name in FileSystemCalls.names(in: staged.directory) ?? [] { unlink(staged.directory + "/" + name) }
            rmdir(staged.directory)
            for ancestor in staged.createdAncestors.reversed() { rmdir(ancestor) }
            return .writeFailed(path: path, reason: FileSystemCalls.reason(code))
        }
        guard location.exists else {
            if let code = FileSystemCalls.rename(staged.directory, location.directory) { throw fail(code) }
            return nil
        }
        guard let code = FileSystemCalls.exchange(staged.directory, location.directory) else { return staged.directory }
        guard code == EINVAL || code == ENOSYS else { throw fail(code) }
        // No exchange on this file system: D is absent between the two renames, never mixed.
        let aside = location.parent + "/" + FileSystemCalls.temporaryName(for: location.name, kind: "old")
        if let code = FileSystemCalls.rename(location.directory, aside) { throw fail(code) }
        if let code = FileSystemCalls.rename(staged.directory, location.directory) {
            _ = FileSystemCalls.rename(aside, location.directory)
            throw fail(code)
        }
        return aside
    }

    /// Phase three: the previous D (at `previous`) gives its other entries back to the new D and
    /// goes. Only previous versions of the staged files, and links whose other name is in the
    /// new D, are unlinked; an entry that arrived in D during the commit is moved across too.
    private func tidy(_ previous: String, into directory: String, replaced: Set<String>, linked: Set<String>,
                      moving: [String]) throws(OutputError) {
        var problems: [String] = []
        func move(_ entry: String) {
            let target = directory + "/" + entry
            guard FileSystemCalls.entry(target, followingLinks: false) == .missing else {
                problems.append("'\(entry)' is in the new directory too")
                return
            }
            if let code = FileSystemCalls.rename(previous + "/" + entry, target) {
                problems.append("'\(entry)': \(FileSystemCalls.reason(code))")
            }
        }
        for entry in moving { move(entry) }
        for entry in FileSystemCalls.names(in: previous) ?? [] {
            if replaced.contains(entry) || linked.contains(entry) {
                if unlink(previous + "/" + entry) != 0 { problems.append("'\(entry)': \(FileSystemCalls.reason(errno))") }
            } else {
                move(entry)
            }
        }
        _ = FileSystemCalls.syncDirectory(directory)
        if rmdir(previous) != 0 {
            throw .leftBehind(path: previous, reason: problems.first ?? FileSystemCalls.reason(errno))
        }
    }
}

/// Where an ``OutputDirectory`` goes, resolved: the directory to replace or create, with the
/// symbolic links of its existing part followed, and what must be created for it.
struct OutputLocation {
    /// Absolute path of the directory (existing part without symbolic links).
    var directory: String
    /// Its parent, where the temporary directory is made.
    var parent: String
    /// Its last component.
    var name: String
    /// Whether it exists (then it is a directory and ``mode`` holds its permission bits).
    var exists: Bool
    var mode: mode_t?
    /// Directories to create, outermost first, before ``parent`` exists.
    var missingAncestors: [String]
    /// The nearest existing directory on the way to ``directory``: its parent when it exists.
    var existingAncestor: String

    /// Resolves `path` (relative to the working directory unless absolute).
    init(of path: String) throws(OutputError) {
        switch FileSystemCalls.entry(path, followingLinks: true) {
        case let .directory(mode, device):
            guard let real = FileSystemCalls.realPath(path) else { throw .notWritable(path: path, reason: FileSystemCalls.reason(errno)) }
            guard real != "/" else { throw .cannotReplace(path: path, reason: "it is the root directory") }
            let parent = Self.parent(of: real)
            guard case let .directory(_, parentDevice) = FileSystemCalls.entry(parent, followingLinks: true), parentDevice == device else {
                throw .cannotReplace(path: path, reason: "it is a mount point")
            }
            self.init(directory: real, parent: parent, name: Self.lastComponent(of: real), exists: true, mode: mode,
                      missingAncestors: [], existingAncestor: parent)
        case .missing:
            if FileSystemCalls.entry(path, followingLinks: false) == .symbolicLink {
                throw .danglingSymbolicLink(path: path, target: FileSystemCalls.linkTarget(path))
            }
            // Walk up to the nearest existing directory; what lies below it is to be created.
            var missing: [String] = []
            var ancestor = Self.trimmed(path)
            while true {
                missing.insert(Self.lastComponent(of: ancestor), at: 0)
                ancestor = Self.parent(of: ancestor)
                switch FileSystemCalls.entry(ancestor, followingLinks: true) {
                case .directory: break
                case .missing:
                    if FileSystemCalls.entry(ancestor, followingLinks: false) == .symbolicLink {
                        throw .danglingSymbolicLink(path: ancestor, target: FileSystemCalls.linkTarget(ancestor))
                    }
                    continue
                case .other, .symbolicLink: throw .notADirectory(path: ancestor)
                case let .unreadable(code): throw .notWritable(path: ancestor, reason: FileSystemCalls.reason(code))
                }
                break
            }
            guard let base = FileSystemCalls.realPath(ancestor) else { throw .notWritable(path: ancestor, reason: FileSystemCalls.reason(errno)) }
            // `.` and `..` below the existing directory are taken lexically (nothing there exists).
            var components: [String] = []
            for component in missing where component != "." && !component.isEmpty {
                if component == ".." {
                    guard !components.isEmpty else { throw .notWritable(path: path, reason: "'..' leaves the directory to be created") }
                    components.removeLast()
                } else {
                    components.append(component)
                }
            }
            guard !components.isEmpty else { throw .notWritable(path: path, reason: "'..' leaves the directory to be created") }
            let prefix = base == "/" ? "" : base
            let directory = prefix + "/" + components.joined(separator: "/")
            let ancestors = (1..<components.count).map { prefix + "/" + components[0..<$0].joined(separator: "/") }
            self.init(directory: directory, parent: Self.parent(of: directory), name: components.last!, exists: false, mode: nil,
                      missingAncestors: ancestors, existingAncestor: base)
        case .other, .symbolicLink:
            throw .notADirectory(path: path)
        case .unreadable(ENOTDIR):
            // A component of the path is a file (`FILE/` or `FILE/sub`): name it.
            var ancestor = Self.trimmed(path)
            while ancestor != "/" && ancestor != "." {
                if FileSystemCalls.entry(ancestor, followingLinks: true) == .other { throw .notADirectory(path: ancestor) }
                ancestor = Self.parent(of: ancestor)
            }
            throw .notADirectory(path: path)
        case let .unreadable(code):
            throw .notWritable(path: path, reason: FileSystemCalls.reason(code))
        }
    }

    private init(directory: String, parent: String, name: String, exists: Bool, mode: mode_t?,
                 missingAncestors: [String], existingAncestor: String) {
        self.directory = directory
        self.parent = parent
        self.name = name
        self.exists = exists
        self.mode = mode
        self.missingAncestors = missingAncestors
        self.existingAncestor = existingAncestor
    }

    /// Refuses an existing entry named like a file to be written that is a directory (it could
    /// not be replaced by a file, and the commit would fail after the run).
    func checkNoDirectory(named names: [String], shownAs shown: String) throws(OutputError) {
        guard exists else { return }
        for name in names {
            if case .directory = FileSystemCalls.entry(directory + "/" + name, followingLinks: false) {
                throw .notAFile(path: Self.joined(shown, name))
            }
        }
    }

    /// Tries to create (and removes) an entry where the commit will create its temporary
    /// directory, and checks that an existing D can be emptied of its previous files.
    func checkCreatable() throws(OutputError) {
        let place = exists ? parent : existingAncestor
        if let code = FileSystemCalls.probeCreation(in: place) {
            throw .notWritable(path: place, reason: FileSystemCalls.reason(code))
        }
        if exists, access(directory, W_OK | X_OK) != 0 {
            throw .notWritable(path: directory, reason: FileSystemCalls.reason(errno))
        }
    }

    /// `directory/name` as a message shows it (the directory as the user wrote it).
    static func joined(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// `path` without trailing slashes (`/` stays `/`).
    static func trimmed(_ path: String) -> String {
        var path = path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    /// The lexical parent: `a/b` → `a`, `b` → `.`, `/b` → `/`.
    static func parent(of path: String) -> String {
        let path = trimmed(path)
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return trimmed(String(path[..<slash]))
    }

    static func lastComponent(of path: String) -> String {
        let path = trimmed(path)
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}
