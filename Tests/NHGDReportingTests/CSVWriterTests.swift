import NHGDReporting
import Testing

@Suite("CSVWriter")
struct CSVWriterTests {
    @Test func quotesOnlyWhatNeedsQuoting() {
        #expect(CSVWriter.escape("plain") == "plain")
        #expect(CSVWriter.escape("") == "")
        #expect(CSVWriter.escape("a,b") == "\"a,b\"")
        #expect(CSVWriter.escape("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CSVWriter.escape("two\nlines") == "\"two\nlines\"")
        #expect(CSVWriter.escape("cr\r\nlf") == "\"cr\r\nlf\"")
        #expect(CSVWriter.escape(" spaced ") == " spaced ")
    }

    @Test func recordsEndInCRLF() {
        var csv = CSVWriter(header: ["iteration", "note"])
        csv.append(["1", "said \"hi\", then left"])
        csv.append(["2", ""])
        #expect(csv.text == "iteration,note\r\n1,\"said \"\"hi\"\", then left\"\r\n2,\r\n")
    }

    @Test func roundTripsThroughTheParser() throws {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("ab ,\"\n\r\té€")
        for _ in 0..<200 {
            let columns = Int.random(in: 1...5, using: &rng)
            let header = (0..<columns).map { "c\($0)" }
            var csv = CSVWriter(header: header)
            var rows = [header]
            for _ in 0..<Int.random(in: 0...5, using: &rng) {
                let row = (0..<columns).map { _ in String((0..<Int.random(in: 1...8, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }) }
                csv.append(row)
                rows.append(row)
            }
            #expect(try parseCSV(csv.text) == rows, "\(csv.text.debugDescription)")
        }
    }

    @Test func parserAcceptsLFAndRejectsMalformedQuotes() throws {
        #expect(try parseCSV("a,b\n1,2\n\n3,\"x\"\"y\"") == [["a", "b"], ["1", "2"], ["3", "x\"y"]])
        #expect(throws: CSVParseError(line: 2, reason: "unterminated quoted field")) { try parseCSV("a\n\"open") }
        #expect(throws: CSVParseError(line: 1, reason: "quote inside an unquoted field")) { try parseCSV("a\"b") }
        #expect(throws: CSVParseError(line: 1, reason: "text after a closing quote")) { try parseCSV("\"a\"b") }
    }

    @Test func numberFields() {
        #expect(CSVWriter.field(0.1) == "0.1")
        #expect(CSVWriter.field(.nan) == "nan")
        #expect(CSVWriter.field(-.infinity) == "-inf")
        #expect(Double(CSVWriter.field(1.0 / 3)) == 1.0 / 3)
    }
}
