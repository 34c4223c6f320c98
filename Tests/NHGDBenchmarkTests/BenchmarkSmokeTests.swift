import Foundation
import Testing

/// Runs the built `nhgd-bench woodbury --quick --json <tmp>` and checks that the JSON parses
/// and every record carries the required keys. It says nothing about speed (tests run in
/// debug on shared machines); the figures live in Docs/benchmarks.md.
struct BenchmarkSmokeTests {
    /// `nhgd-bench` sits next to the test bundle in the build products directory.
    func benchmarkExecutable() throws -> URL {
        var candidates = [URL]()
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append(URL(fileURLWithPath: exe).deletingLastPathComponent())
        }
        candidates.append(Bundle.main.bundleURL)
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
        for directory in candidates {
            let url = directory.appendingPathComponent("nhgd-bench")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw LocateError(searched: candidates.map(\.path))
    }

    struct LocateError: Error, CustomStringConvertible {
        let searched: [String]
        var description: String { "nhgd-bench not found next to the test bundle; searched \(searched)" }
    }

    @Test func woodburyQuickWritesWellFormedJSON() throws {
        let executable = try benchmarkExecutable()
        let json = FileManager.default.temporaryDirectory.appendingPathComponent("nhgd-bench-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: json) }
        let process = Process()
        process.executableURL = executable
        process.arguments = ["woodbury", "--quick", "--json", json.path, "--threads", "2"]
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let stderrData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "stderr: \(String(decoding: stderrData, as: UTF8.self))")

        let records = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [[String: Any]])
        let woodbury = records.filter { $0["suite"] as? String == "woodbury" }
        #expect(!woodbury.isEmpty)
        #expect(records.contains { $0["suite"] as? String == "probe" })
        for record in records {
            for key in ["suite", "name", "p", "k", "seconds"] {
                #expect(record[key] != nil, "record \(record) lacks \(key)")
            }
            #expect((record["seconds"] as? Double).map { $0 > 0 } == true)
        }
        // Every memory-bound woodbury record reports a ratio to a machine limit.
        for record in woodbury where (record["name"] as? String)?.hasPrefix("solve") == true {
            #expect(record["ratio"] is Double, "\(record) lacks a ratio")
            #expect(record["limit"] is String)
        }
        let ranks = Set(woodbury.compactMap { $0["k"] as? Int })
        #expect(ranks == [16, 64, 256])

        // Bad arguments are rejected with status 2.
        let bad = Process()
        bad.executableURL = executable
        bad.arguments = ["no-such-suite"]
        bad.standardOutput = FileHandle.nullDevice
        bad.standardError = FileHandle.nullDevice
        try bad.run()
        bad.waitUntilExit()
        #expect(bad.terminationStatus == 2)
    }
}
