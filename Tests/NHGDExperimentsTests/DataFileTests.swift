import Foundation
import Testing
import NHGDLinearAlgebra
import NHGDTestSupport
@testable import NHGDExperiments

/// Loaded once per test process: the shipped data sets (each load verifies the checksum).
let shippedMNIST = Result { try Dataset.mnist5k() }
let shippedBreastCancer = Result { try Dataset.breastCancer() }

/// A fresh temporary directory for files a test writes.
func makeDataTestDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("nhgd-data-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The `reason` of a ``DataError/file(path:reason:)`` thrown by `body`, or nil.
func dataErrorReason(_ body: () throws -> Any) -> String? {
    do {
        _ = try body()
        return nil
    } catch let DataError.file(_, reason) {
        return reason
    } catch {
        return "unexpected error \(error)"
    }
}

@Suite struct DataFileTests {
    @Test func mnistShipsAsDocumented() throws {
        let mnist = try shippedMNIST.get()
        #expect(mnist.name == "mnist-5k")
        #expect(mnist.featureCount == 784 && mnist.sampleCount == 5000)
        #expect(mnist.classCount == 10 && mnist.labelNames == (0..<10).map(String.init))
        // The README's description: 500 samples per class, pixels integers in 0…255.
        #expect(mnist.classCounts == [Int](repeating: 500, count: 10))
        #expect(mnist.features.storage.allSatisfy { $0 >= 0 && $0 <= 255 && $0.rounded() == $0 })
        #expect(mnist.features.storage.max() == 255)
    }

    @Test func breastCancerShipsAsDocumented() throws {
        let cancer = try shippedBreastCancer.get()
        #expect(cancer.name == "breast-cancer")
        #expect(cancer.featureCount == 30 && cancer.sampleCount == 569)
        #expect(cancer.labelNames == ["malignant", "benign"])
        // UCI's documented class distribution: 212 malignant, 357 benign.
        #expect(cancer.classCounts == [212, 357])
        #expect(cancer.features.firstNonFiniteIndex == nil)
    }

    /// The Swift writer reproduces the Python converter's files byte for byte: reader, writer
    /// and script agree on the format.
    @Test func swiftWriterReproducesShippedFiles() throws {
        for (result, name, type) in [(shippedMNIST, "mnist-5k", DatasetFileFormat.ElementType.uint8),
                                     (shippedBreastCancer, "breast-cancer", .float64)] {
            let shipped = try Data(contentsOf: try Dataset.resourceURL(named: name))
            let encoded = try result.get().encodedBinary(elementType: type)
            #expect(encoded == shipped, "\(name): re-encoded bytes differ from the shipped file")
        }
    }

    @Test func binaryRoundTripOfRandomDatasets() throws {
        let directory = try makeDataTestDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try forAll("binary round trip", cases: 20) { c in
            let d = c.size(0...12), n = c.size(0...40), k = c.size(1...5)
            let integral = c.bool()
            var features = c.gaussianMatrix(rows: d, columns: n)
            if integral { features.storage = features.storage.map { Double(Int(abs($0) * 80) % 256) } }
            let labels = (0..<n).map { _ in c.int(in: 0...(k - 1)) }
            let dataset = try Dataset(name: "random é \(c.seed)", features: features, labels: labels, classCount: k,
                                      labelNames: (0..<k).map { "class \($0)" })
            c.note("d=\(d) n=\(n) k=\(k) uint8=\(integral)")
            let url = directory.appendingPathComponent("\(c.seed).nhgd")
            try dataset.write(binaryTo: url, elementType: integral ? .uint8 : .float64)
            let loaded = try Dataset.load(binaryAt: url)
            try c.expect(loaded == dataset, "round trip changed the data set")
        }
    }

    @Test func uint8EncodingRejectsNonBytes() throws {
        let dataset = try Dataset(name: "x", features: Matrix(rows: 1, columns: 1, storage: [0.5]), labels: [0],
                                  classCount: 1)
        let reason = dataErrorReason { try dataset.encodedBinary(elementType: .uint8) }
        #expect(reason?.contains("not an integer in 0...255") == true)
    }

    /// Corrupted copies of a shipped file: each damage gives a `.data` error saying what is wrong.
    @Test func corruptFilesAreRejectedWithClearErrors() throws {
        let directory = try makeDataTestDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let original = [UInt8](try Data(contentsOf: try Dataset.resourceURL(named: "breast-cancer")))
        func load(_ bytes: [UInt8]) -> String? {
            let url = directory.appendingPathComponent("damaged.nhgd")
            try? Data(bytes).write(to: url)
            return dataErrorReason { try Dataset.load(binaryAt: url) }
        }
        #expect(load(original) == nil)
        #expect(dataErrorReason { try Dataset.load(binaryAt: directory.appendingPathComponent("absent.nhgd")) }
            == "no such file")
        #expect(load(Array(original.prefix(40)))?.hasPrefix("truncated") == true)
        #expect(load(Array(original.prefix(original.count - 1)))?.hasPrefix("truncated") == true)
        #expect(load(Array(original.prefix(64)))?.hasPrefix("truncated") == true)
        #expect(load(original + [0])?.contains("trailing") == true)
        var magic = original
        magic[0] = UInt8(ascii: "X")
        #expect(load(magic)?.hasPrefix("bad magic") == true)
        var version = original
        version[8] = 7
        #expect(load(version)?.hasPrefix("unsupported version") == true)
        var elementType = original
        elementType[12] = 9
        #expect(load(elementType)?.hasPrefix("unknown element type") == true)
        var size = original
        size[16] ^= 1
        #expect(load(size)?.hasPrefix("corrupt header") == true)
        var rng = Xoshiro256StarStar(seed: 11)
        for _ in 0..<20 {  // any single flipped payload byte fails the checksum
            var flipped = original
            let position = Int.random(in: 64..<original.count, using: &rng)
            flipped[position] ^= UInt8.random(in: 1...255, using: &rng)
            #expect(load(flipped)?.hasPrefix("bad checksum") == true, "flipped byte \(position)")
        }
    }
}

@Suite struct DataCSVTests {
    func parse(_ text: String, labelInLastColumn: Bool = true) throws -> Dataset {
        try Dataset.parseCSV(Data(text.utf8), file: "test.csv", labelInLastColumn: labelInLastColumn)
    }

    @Test func parsesHeaderCRLFAndRemapsLabels() throws {
        let data = try parse("f1,f2,label\r\n1.5, 2,-1\r\n\r\n3,4e-1,1\r\n-0.25,7,1\r\n")
        #expect(data.featureCount == 2 && data.sampleCount == 3)
        #expect(data.features.storage == [1.5, 2, 3, 0.4, -0.25, 7])
        #expect(data.labels == [0, 1, 1] && data.labelNames == ["-1", "1"] && data.classCount == 2)
        let first = try parse("2,1,1\n0,3,4\n", labelInLastColumn: false)
        #expect(first.labels == [1, 0] && first.labelNames == ["0", "2"])
        #expect(first.features.storage == [1, 1, 3, 4])
    }

    @Test func malformedCSVNamesLineAndColumn() throws {
        #expect(dataErrorReason { try parse("a,b,c\n1,2,0\n3,x,1\n") } == "line 3, column 2: 'x' is not a number")
        #expect(dataErrorReason { try parse("1,2,0\n3,1\n") } == "line 2: expected 3 fields, found 2")
        #expect(dataErrorReason { try parse("1,2,0.5\n") } == "line 1, column 3: label 0.5 is not an integer")
        #expect(dataErrorReason { try parse("1,nan,0\n") } == "line 1, column 2: value is not finite")
        #expect(dataErrorReason { try parse("h1,h2\n") } == "no data rows")
        #expect(dataErrorReason { try parse("1\n") }?.hasPrefix("line 1: need at least one feature") == true)
        #expect(dataErrorReason { try Dataset.load(csvAt: URL(fileURLWithPath: "/nonexistent/x.csv")) } == "no such file")
    }

    @Test func loadsFromFileAndAgreesWithBinary() throws {
        let directory = try makeDataTestDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let cancer = try shippedBreastCancer.get()
        // Write the shipped set as CSV (shortest round-trip decimal text) and read it back.
        var text = "features…,label\n"
        for i in 0..<cancer.sampleCount {
            text += cancer.features.column(i).map { "\($0)" }.joined(separator: ",") + ",\(cancer.labels[i])\n"
        }
        let url = directory.appendingPathComponent("cancer.csv")
        try Data(text.utf8).write(to: url)
        let loaded = try Dataset.load(csvAt: url)
        #expect(loaded.features == cancer.features && loaded.labels == cancer.labels && loaded.name == "cancer")
    }
}
