import Foundation
import NHGDReporting
import Synchronization
import Testing

/// A fresh empty directory under the system temporary directory, removed by the caller.
func makeScratchDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "nhgd-reporting-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite("AtomicFile and OutputDirectory")
struct OutputDirectoryTests {
    @Test func atomicWriteReplacesAndLeavesNoTemporaries() throws {
        let dir = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try AtomicFile.write("first", to: dir + "/a.txt")
        try AtomicFile.write("second", to: dir + "/a.txt")
        #expect(try String(contentsOfFile: dir + "/a.txt", encoding: .utf8) == "second")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["a.txt"])
    }

    @Test func atomicWriteIntoMissingDirectoryFailsCleanly() throws {
        let dir = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: OutputError.self) { try AtomicFile.write("x", to: dir + "/missing/a.txt") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test func nothingIsWrittenUntilCommit() throws {
        let dir = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let target = dir + "/run/nested"
        var output = try OutputDirectory(path: target)
        try output.stage("trace.csv", "a,b\r\n")
        try output.stage("plot.svg", "<svg/>")
        try output.stage("trace.csv", "c,d\r\n")
        #expect(!FileManager.default.fileExists(atPath: dir + "/run"))
        let written = try output.commit()
        #expect(written == [target + "/trace.csv", target + "/plot.svg"])
        #expect(try String(contentsOfFile: target + "/trace.csv", encoding: .utf8) == "c,d\r\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: target).sorted() == ["plot.svg", "trace.csv"])
    }

    @Test func badPathsAreRejectedBeforeAnythingRuns() throws {
        let dir = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = FileManager.default.createFile(atPath: dir + "/file", contents: Data("x".utf8))
        #expect(throws: OutputError.notADirectory(path: dir + "/file")) { try OutputDirectory(path: dir + "/file") }
        #expect(throws: OutputError.notADirectory(path: dir + "/file")) { try OutputDirectory(path: dir + "/file/sub") }
        var output = try OutputDirectory(path: dir)
        #expect(throws: OutputError.invalidFileName("a/b")) { try output.stage("a/b", "") }
        #expect(throws: OutputError.invalidFileName("..")) { try output.stage("..", "") }
        #expect(throws: OutputError.invalidFileName("")) { try output.stage("", "") }
    }

    @Test func failedCommitRemovesTemporariesAndCreatedDirectory() throws {
        let dir = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var output = try OutputDirectory(path: dir + "/new")
        try output.stage("ok.txt", "fine")
        // A name longer than NAME_MAX makes the second temporary file fail to open.
        try output.stage(String(repeating: "n", count: 300), "too long")
        #expect(throws: OutputError.self) { try output.commit() }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }
}

/// Writes `files` (name → contents) into `directory`, creating it.
func writeFiles(_ files: [String: String], in directory: String) throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for (name, contents) in files { try contents.write(toFile: directory + "/" + name, atomically: false, encoding: .utf8) }
}

/// Every regular file below `directory` (relative path → contents), and every directory as "name/".
func snapshot(_ directory: String) throws -> [String: String] {
    var result: [String: String] = [:]
    let manager = FileManager.default
    for relative in try manager.subpathsOfDirectory(atPath: directory) {
        let full = directory + "/" + relative
        var isDirectory: ObjCBool = false
        _ = manager.fileExists(atPath: full, isDirectory: &isDirectory)
        if (try? manager.destinationOfSymbolicLink(atPath: full)) != nil {
            result[relative] = "-> " + (try manager.destinationOfSymbolicLink(atPath: full))
        } else if isDirectory.boolValue {
            result[relative + "/"] = ""
        } else {
            result[relative] = try String(contentsOfFile: full, encoding: .utf8)
        }
    }
    return result
}

func inode(_ path: String) -> UInt64 {
    var info = stat()
    return lstat(path, &info) == 0 ? UInt64(info.st_ino) : 0
}

/// The cases for `--output`: a commit puts a whole set in place at once or changes
/// nothing, keeps what else is in the directory, and leaves no temporaries; and a location that
/// cannot work is refused before the run.
@Suite("OutputDirectory commits")
struct OutputDirectoryCommitTests {
    static let names = ["trace.csv", "trace.json", "plot.svg"]

    func stagedSet(_ path: String, version: String) throws -> OutputDirectory {
        var output = try OutputDirectory(path: path)
        for name in Self.names { try output.stage(name, "\(name) \(version)") }
        return output
    }

    /// `mkdir -p D/plot.svg/x`: trace.csv and trace.json used to be replaced before the commit
    /// failed on plot.svg. Now the location is refused before the run, and a commit (if the
    /// directory appeared during the run) changes nothing and leaves nothing.
    @Test func aDirectoryNamedLikeAStagedFileChangesNothingAndLeavesNothing() throws {
        let dir = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let target = dir + "/D"
        try writeFiles(["trace.csv": "old csv", "trace.json": "old json"], in: target)
        try FileManager.default.createDirectory(atPath: target + "/plot.svg/x", withIntermediateDirectories: true)
        let before = try snapshot(target)
        #expect(throws: OutputError.notAFile(path: target + "/plot.svg")) { try OutputDirectory(path: target, fileNames: Self.names) }
        let output = try stagedSet(target, version: "new")
        #expect(throws: OutputError.notAFile(path: target + "/plot.svg")) { try output.commit() }
        #expect(try snapshot(target) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["D"])
    }

    @Test func aCommitReplacesTheSetAndKeepsEverythingElse() throws {
        let dir = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let target = dir + "/D"
        try writeFiles(["trace.csv": "trace.csv old", "trace.json": "trace.json old", "plot.svg": "plot.svg old",
                        "notes.txt": "mine"], in: target)
        try writeFiles(["inner.txt": "deep"], in: target + "/sub")
        try FileManager.default.createSymbolicLink(atPath: target + "/link", withDestinationPath: "notes.txt")
        #expect(chmod(target, 0o750) == 0)
        let notesInode = inode(target + "/notes.txt"), subInode = inode(target + "/sub")
        let written = try stagedSet(target, version: "new").commit()
        #expect(written == Self.names.map { target + "/" + $0 })
        #expect(try snapshot(target) == ["trace.csv": "trace.csv new", "trace.json": "trace.json new", "plot.svg": "plot.svg new",
                                         "notes.txt": "mine", "sub/": "", "sub/inner.txt": "deep", "link": "-> notes.txt"])
        // The user's entries were neither copied nor recreated: same inodes, one link each again.
        #expect(inode(target + "/notes.txt") == notesInode && inode(target + "/sub") == subInode)
        var info = stat()
        #expect(stat(target + "/notes.txt", &info) == 0 && info.st_nlink == 1)
        #expect(stat(target, &info) == 0 && info.st_mode & 0o7777 == 0o750)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["D"])
    }

    @Test func aNewDirectoryAndItsAncestorsAreCreatedOrNotAtAll() throws {
        let dir = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try stagedSet(dir + "/a/b/../c/D", version: "1").commit()
        #expect(try snapshot(dir + "/a") == ["c/": "", "c/D/": "", "c/D/trace.csv": "trace.csv 1", "c/D/trace.json": "trace.json 1",
                                             "c/D/plot.svg": "plot.svg 1"])
        var failing = try stagedSet(dir + "/x/y/D", version: "1")
        try failing.stage(String(repeating: "n", count: 300), "a name longer than NAME_MAX fails to open")
        #expect(throws: OutputError.self) { try failing.commit() }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["a"])
    }

    /// A symbolic link D is followed: its target is replaced, the link stays.
    @Test func aLinkedDirectoryIsReplacedThroughTheLink() throws {
        let dir = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeFiles(["trace.csv": "old"], in: dir + "/real")
        try FileManager.default.createSymbolicLink(atPath: dir + "/link", withDestinationPath: "real")
        try stagedSet(dir + "/link", version: "new").commit()
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/link") == "real")
        #expect(try String(contentsOfFile: dir + "/real/trace.csv", encoding: .utf8) == "trace.csv new")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["link", "real"])
    }

    /// A reader that opens D and reads the three files from there, while commits replace them:
    /// what it reads is from one run (with one `rename` per file, as before, a reader could see
    /// trace.csv of one run and plot.svg of another). A reader slow enough to still hold the
    /// previous directory when the next commit removes it finds files missing, never mixed.
    @Test func readersNeverSeeAMixedSet() throws {
        let dir = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let target = dir + "/D"
        try stagedSet(target, version: "0").commit()
        let done = Atomic<Bool>(false), reads = Atomic<Int>(0), mixed = Atomic<Int>(0)
        let reader = Thread {
            func read(_ directory: Int32, _ name: String) -> String? {
                let fd = openat(directory, name, O_RDONLY)
                guard fd >= 0 else { return nil }
                defer { close(fd) }
                var buffer = [UInt8](repeating: 0, count: 64)
                let count = Foundation.read(fd, &buffer, buffer.count)
                return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : nil
            }
            while !done.load(ordering: .acquiring) {
                let directory = open(target, O_RDONLY | O_DIRECTORY)
                guard directory >= 0 else { continue }
                let versions = Self.names.compactMap { name in read(directory, name)?.split(separator: " ").last.map(String.init) }
                close(directory)
                // Files may be missing (the next commit removes the previous set while a slow
                // reader still holds it), but never from two runs.
                if Set(versions).count > 1 { mixed.add(1, ordering: .relaxed) }
                if versions.count == Self.names.count { reads.add(1, ordering: .relaxed) }
            }
        }
        reader.start()
        for version in 1...40 { try stagedSet(target, version: "\(version)").commit() }
        done.store(true, ordering: .releasing)
        while !reader.isFinished { usleep(1000) }
        #expect(reads.load(ordering: .relaxed) > 0)
        #expect(mixed.load(ordering: .relaxed) == 0, "\(mixed.load(ordering: .relaxed)) of \(reads.load(ordering: .relaxed)) reads saw a mixed set")
        #expect(try snapshot(target) == Dictionary(uniqueKeysWithValues: Self.names.map { ($0, "\($0) 40") }))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["D"])
    }

    /// `--output /proc/foo`, `--output FILE/` and a symbolic link to nothing were found only
    /// when the commit failed after the whole run. They are refused before it.
    @Test func locationsThatCannotWorkAreRefusedAtOnce() throws {
        let dir = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "x".write(toFile: dir + "/file", atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dir + "/dangling", withDestinationPath: dir + "/nowhere")
        let cases: [(String, OutputError)] = [
            (dir + "/file", .notADirectory(path: dir + "/file")),
            (dir + "/file/", .notADirectory(path: dir + "/file")),
            (dir + "/file/sub/deeper", .notADirectory(path: dir + "/file")),
            (dir + "/dangling", .danglingSymbolicLink(path: dir + "/dangling", target: dir + "/nowhere")),
            (dir + "/dangling/sub", .danglingSymbolicLink(path: dir + "/dangling", target: dir + "/nowhere")),
            ("/", .cannotReplace(path: "/", reason: "it is the root directory")),
        ]
        for (path, error) in cases {
            #expect(throws: error, "\(path)") { try OutputDirectory(path: path, fileNames: Self.names) }
        }
        if FileManager.default.fileExists(atPath: "/proc/self") {
            #expect(throws: OutputError.self) { try OutputDirectory(path: "/proc/foo") }
            #expect(throws: OutputError.cannotReplace(path: "/proc", reason: "it is a mount point")) { try OutputDirectory(path: "/proc") }
            do {
                _ = try OutputDirectory(path: "/proc/foo")
            } catch {
                #expect(error.description.hasPrefix("cannot create files in '/proc': "), "\(error)")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["dangling", "file"])
    }
}

/// SIGUSR2 stands in for SIGINT here (the test process must survive), counted by this handler.
let heldSignalCount = Atomic<Int>(0)

/// Waits up to `milliseconds` for the count to reach `value` (a signal sent to the process is
/// delivered to some thread that does not block it, not necessarily before `kill` returns).
func waitForHeldSignalCount(_ value: Int, milliseconds: Int = 2000) -> Int {
    for _ in 0..<milliseconds where heldSignalCount.load(ordering: .relaxed) < value { usleep(1000) }
    return heldSignalCount.load(ordering: .relaxed)
}

@Suite("TerminationSignals")
struct TerminationSignalsTests {
    @Test func heldSignalsTakeEffectOnceTheSectionsAreLeft() {
        var counting = sigaction(), previous = sigaction()
        counting.__sigaction_handler.sa_handler = { _ in heldSignalCount.add(1, ordering: .relaxed) }
        sigemptyset(&counting.sa_mask)
        sigaction(SIGUSR2, &counting, &previous)
        defer { sigaction(SIGUSR2, &previous, nil) }
        heldSignalCount.store(0, ordering: .relaxed)
        TerminationSignals.deferring([SIGUSR2]) {
            kill(getpid(), SIGUSR2)
            #expect(waitForHeldSignalCount(1, milliseconds: 200) == 0, "delivered inside the section")
            TerminationSignals.deferring([SIGUSR2]) { kill(getpid(), SIGUSR2) }
            #expect(waitForHeldSignalCount(1, milliseconds: 200) == 0, "delivered when the inner section was left")
        }
        // Delivered to the handler that was there before, once (like a pending signal).
        #expect(waitForHeldSignalCount(1) == 1)
        kill(getpid(), SIGUSR2)
        #expect(waitForHeldSignalCount(2) == 2, "the previous handler was not restored")
        TerminationSignals.deferring([SIGUSR2]) {}
        usleep(100_000)
        #expect(heldSignalCount.load(ordering: .relaxed) == 2, "sent although nothing arrived")
    }
}
