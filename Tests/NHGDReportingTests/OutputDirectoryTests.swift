import Foundation
import NHGDReporting
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
