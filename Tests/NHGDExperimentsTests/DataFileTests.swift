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

    /// A cell must be exactly a number: `Double(_:)` stops at a NUL, so `1.5<NUL>xyz` was read
    /// as 1.5 and accepted.
    @Test func aCellIsExactlyANumber() throws {
        #expect(dataErrorReason { try parse("1,2,0\n1.5\u{0}xyz,2,1\n") } == "line 2, column 1: '1.5\\u{0}xyz' is not a number")
        #expect(dataErrorReason { try parse("1,2,0\n1,2\u{0},1\n") } == "line 2, column 2: '2\\u{0}' is not a number")
        #expect(dataErrorReason { try parse("1,2,0\n1,\u{0}2,1\n") } == "line 2, column 2: '\\u{0}2' is not a number")
        #expect(dataErrorReason { try parse("1,2,0\n1.5xyz,2,1\n") } == "line 2, column 1: '1.5xyz' is not a number")
        #expect(dataErrorReason { try parse("1,2,0\n1.5 2,2,1\n") } == "line 2, column 1: '1.5 2' is not a number")
        #expect(dataErrorReason { try parse("1,2,0\n1,2,1\u{7}\n") } == "line 2, column 3: '1\\u{7}' is not a number")
        #expect(dataErrorReason { try parse("1,2,0\n1,é,1\n") } == "line 2, column 2: 'é' is not a number")
        #expect(dataErrorReason { try parse("1,2,0\n1,,1\n") } == "line 2, column 2: '' is not a number")
        // On line 1 such a cell makes the line a header, like any other non-number.
        #expect(dataErrorReason { try parse("1.5\u{0}xyz,2,0\n") } == "no data rows")
        #expect(try parse("1.5\u{0}xyz,2,0\n1,2,0\n").features.storage == [1, 2])
    }

    /// Every number form `Double(_:)` reads still reads the same, bit for bit, including the
    /// integer fast path (signs, leading zeros, 15 and 16 digits).
    @Test func numbersReadAsDoubleReadsThem() throws {
        var texts = ["0", "-0", "+0", "007", "-12", "+12", "123456789012345", "1234567890123456", "9007199254740993",
                     "1.5", "-.5", "5.", "1e300", "1E-300", "4.9e-324", "2.2250738585072014e-308", "0x1p-3", "0X1.8P1",
                     "0.1", "1.7976931348623157e308", "  3.25\t"]
        var rng = Xoshiro256StarStar(seed: 3)
        for _ in 0..<200 {
            let value = Double(bitPattern: rng.next()) 
            if value.isFinite { texts.append("\(value)") }
            texts.append(String(Int.random(in: -999_999_999_999_999...999_999_999_999_999, using: &rng)))
        }
        for text in texts {
            let data = try parse("\(text),1\n")
            let expected = try #require(Double(text.trimmingCharacters(in: .whitespaces)), "\(text)")
            #expect(data.features.storage.map(\.bitPattern) == [expected.bitPattern], "\(text)")
        }
    }

    @Test func lineEndsBlankLinesAndSpaces() throws {
        let expected = try parse("1,2,0\n3,4,1\n5,6,1\n")
        for text in ["1,2,0\r\n3,4,1\r\n5,6,1", "1,2,0\r3,4,1\r5,6,1\r", "\n  \t\n1,2,0\n\n3,4,1\r\n \n5,6,1\n\n",
                     " 1 ,\t2, 0\n3,4 ,1 \n5,6,1\n"] {
            let data = try parse(text)
            #expect(data == Dataset(unchecked: "test", features: expected.features, labels: expected.labels,
                                    classCount: 2, labelNames: ["0", "1"]), "\(text.debugDescription)")
        }
        // "\r\n" is one line end, "\n\r" two: the error names the line.
        #expect(dataErrorReason { try parse("1,2,0\r\n1,x,0\n") } == "line 2, column 2: 'x' is not a number")
        #expect(dataErrorReason { try parse("1,2,0\n\r1,x,0\n") } == "line 3, column 2: 'x' is not a number")
    }

    /// The limits that bound a line (see CSVParser): each is an error as soon as it is crossed.
    @Test func linesBeyondTheLimitsAreRejectedWhenTheyCrossThem() throws {
        let long = String(repeating: "1", count: CSVParser.maximumFieldBytes)
        #expect(try parse("\(long),1\n").features.storage == [Double(long)!])  // 256 bytes: still a field
        #expect(dataErrorReason { try parse("1,\(long)1,0\n") } == "line 1, column 2: field longer than 256 bytes")
        #expect(dataErrorReason { try parse("a,b\n1,2\n3,4,5,6\n") } == "line 3: expected 2 fields, found more than 2")
        let wide = String(repeating: "1,", count: CSVParser.maximumFields) + "1\n"
        #expect(dataErrorReason { try parse(wide) } == "line 1: more than 1048576 fields")
        #expect(dataErrorReason { try parse("h," + wide) } == "line 1: more than 1048576 fields")
        // Rejected in the piece that crosses the limit: nothing after it is needed.
        let parser = CSVParser(file: "stream.csv", labelInLastColumn: true)
        let head = Array("1,2,0\n3,".utf8) + [UInt8](repeating: UInt8(ascii: "4"), count: 300)
        #expect(throws: DataError.file(path: "stream.csv", reason: "line 2, column 2: field longer than 256 bytes")) {
            try head.withUnsafeBytes { try parser.consume($0) }
        }
        let rows = CSVParser(file: "stream.csv", labelInLastColumn: true)
        #expect(throws: DataError.file(path: "stream.csv", reason: "line 2: expected 3 fields, found more than 3")) {
            try Array("1,2,0\n3,4,5,6".utf8).withUnsafeBytes { try rows.consume($0) }
        }
    }

    /// The parser is fed the file in pieces: where the pieces are cut changes nothing, for good
    /// files and bad ones alike (same data set, or the same error).
    @Test func theResultDoesNotDependOnWhereTheBytesAreCut() throws {
        let alphabet = Array("0123456789,,,.. -+e\n\n\r\txa".utf8) + [0]
        try forAll("CSV pieces", cases: 200) { c in
            var bytes: [UInt8]
            if c.bool() {
                // A well-formed file, perhaps with a header, CRLF and blank lines, then perhaps damaged.
                let columns = c.size(2...5), rows = c.size(1...12)
                var text = c.bool() ? (0..<columns).map { "h\($0)" }.joined(separator: ",") + "\n" : ""
                for _ in 0..<rows {
                    let features = (0..<(columns - 1)).map { _ in c.bool() ? "\(c.int(in: -300...300))" : "\(c.gaussian())" }
                    text += (features + ["\(c.int(in: 0...2))"]).joined(separator: c.bool() ? "," : " , ")
                    text += ["\n", "\r\n", "\n\n", "\r"][c.int(in: 0...3)]
                }
                bytes = Array(text.utf8)
                if c.bool(), !bytes.isEmpty { bytes[c.int(in: 0...(bytes.count - 1))] = alphabet[c.int(in: 0...(alphabet.count - 1))] }
            } else {
                bytes = (0..<c.size(0...80)).map { _ in alphabet[c.int(in: 0...(alphabet.count - 1))] }
            }
            c.note("bytes \(bytes)")
            func outcome(_ chunk: Int) -> String {
                do {
                    let data = try Dataset.parseCSV(Data(bytes), file: "f.csv", labelInLastColumn: true, chunkBytes: chunk)
                    return "\(data.features.storage.map(\.bitPattern)) \(data.featureCount) \(data.labels) \(data.labelNames)"
                } catch {
                    return "error \(error)"
                }
            }
            let whole = outcome(Dataset.csvChunkBytes)
            for chunk in [1, 2, 3, 7] {
                try c.expect(outcome(chunk) == whole, "pieces of \(chunk) bytes: \(outcome(chunk)) instead of \(whole)")
            }
        }
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
