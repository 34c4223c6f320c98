import Foundation
import Testing

/// Runs the built `nhgd-bench scaling --smoke` (the smallest synthetic and MLP cells, each in
/// its own child process) and checks the JSON records and the SVG plots it writes. Nothing
/// about speed: tests run in debug on a shared machine (Docs/benchmarks.md has the figures).
struct ScalingSmokeTests {
    @Test func scalingSmokeWritesRecordsAndPlots() throws {
        let executable = try BenchmarkSmokeTests().benchmarkExecutable()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("nhgd-scaling-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let json = directory.appendingPathComponent("scaling.json")
        let plots = directory.appendingPathComponent("plots")
        let process = Process()
        process.executableURL = executable
        process.arguments = ["scaling", "--smoke", "--quick", "--json", json.path, "--plots", plots.path, "--threads", "2"]
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let stderrData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "stderr: \(String(decoding: stderrData, as: UTF8.self))")

        let records = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [[String: Any]])
        let scaling = records.filter { $0["suite"] as? String == "scaling" }
        #expect(records.contains { $0["suite"] as? String == "probe" })
        for record in scaling {
            for key in ["suite", "name", "p", "k", "seconds", "method", "feasible", "peak_bytes", "problem"] {
                #expect(record[key] != nil, "record \(record) lacks \(key)")
            }
            #expect(record["feasible"] is Bool && record["method"] is String)
            #expect((record["peak_bytes"] as? Double).map { $0 > 0 } == true, "\(record)")
        }
        // Both problems, every method, with accuracy against a named reference on the synthetic cell.
        let methods = Set(scaling.compactMap { $0["method"] as? String })
        #expect(methods.isSuperset(of: ["nhgd", "cg-10", "neumann-10", "nystrom", "exact", "woodbury solve",
                                        "nhgd iteration", "cg-10 iteration", "sgd loop", "cg-200 (reference)"]))
        #expect(Set(scaling.compactMap { $0["problem"] as? String }) == ["synthetic-logistic", "mlp-mnist"])
        // For an estimate a against the reference b with r = ‖a − b‖/‖b‖ < 1, the angle obeys
        // cos(a, b) ≥ √(1 − r²) (a lies in the ball of radius r‖b‖ around b), and cos ≤ 1.
        for record in scaling where record["problem"] as? String == "synthetic-logistic"
            && ["nhgd", "cg-10", "neumann-10", "cg-200 (reference)"].contains(record["method"] as? String ?? "") {
            let cosine = try #require(record["cosine"] as? Double, "\(record)")
            let relative = try #require(record["relative error"] as? Double, "\(record)")
            #expect(record["reference"] as? String == "exact")
            #expect(cosine <= 1 + 1e-12 && relative >= 0, "\(record)")
            if relative < 1 { #expect(cosine >= (1 - relative * relative).squareRoot() - 1e-12, "\(record)") }
        }
        // CG-200 at tolerance 1e-12 solves this p = 10³ system (κ ≲ 10⁴) to ≈ κ·1e-12 relative:
        // it must agree with the dense exact hypergradient to 1e-7 (5e-13 was measured at full size).
        let reference = try #require(scaling.first { $0["problem"] as? String == "synthetic-logistic"
            && $0["method"] as? String == "cg-200 (reference)" })
        #expect((reference["relative error"] as? Double).map { $0 <= 1e-7 } == true, "\(reference)")
        // The MLP's exact method is infeasible at any size worth timing: a predicted time and the bytes.
        let mlpExact = try #require(scaling.first { $0["problem"] as? String == "mlp-mnist" && $0["method"] as? String == "exact" })
        #expect(mlpExact["feasible"] as? Bool == false && (mlpExact["bytes needed"] as? Double).map { $0 > 0 } == true)
        #expect((mlpExact["seconds"] as? Double).map { $0 > 0 } == true)
        // A Woodbury solve has a bandwidth ratio.
        #expect(scaling.contains { $0["method"] as? String == "woodbury solve" && $0["ratio"] is Double })
        for name in ["scaling-time.svg", "scaling-bandwidth.svg"] {
            let svg = try String(contentsOf: plots.appendingPathComponent(name), encoding: .utf8)
            #expect(svg.hasPrefix("<svg") || svg.hasPrefix("<?xml"), "\(name) is not SVG")
        }

        // A malformed cell is rejected by the child mode with a non-zero status.
        let bad = Process()
        bad.executableURL = executable
        bad.arguments = ["scaling", "--cell", "synthetic:p=10", "--json", json.path]
        bad.standardOutput = FileHandle.nullDevice
        bad.standardError = FileHandle.nullDevice
        try bad.run()
        bad.waitUntilExit()
        #expect(bad.terminationStatus != 0)
    }
}
