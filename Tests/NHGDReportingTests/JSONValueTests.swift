import NHGDReporting
import Testing

@Suite("JSONValue")
struct JSONValueTests {
    @Test func objectsKeepKeyOrder() {
        let value = JSONValue.object([("zeta", .integer(1)), ("alpha", .bool(true)), ("mid", .null)])
        #expect(value.serialized() == #"{"zeta":1,"alpha":true,"mid":null}"#)
    }

    @Test func nonFiniteNumbersBecomeNull() {
        let value = JSONValue.array([.number(.nan), .number(.infinity), .number(-.infinity), .finite(.nan), .finite(2.5)])
        #expect(value.serialized() == "[null,null,null,null,2.5]")
    }

    @Test func stringsAreEscaped() throws {
        let nasty = "quote \" backslash \\ newline \n tab \t bell \u{07} nul \u{00} unicode é 😀 slash /"
        let text = JSONValue.string(nasty).serialized()
        #expect(text == #""quote \" backslash \\ newline \n tab \t bell \u0007 nul \u0000 unicode é 😀 slash /""#)
        #expect(try JSONValue(parsing: text) == .string(nasty))
    }

    @Test func numbersRoundTripBitForBit() throws {
        var rng = SystemRandomNumberGenerator()
        var samples: [Double] = [0, -0.0, 0.1, 1e-300, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -1.5e20, 1 / 3, 123456789.123456789]
        for _ in 0..<500 { samples.append(Double(bitPattern: rng.next() & ~(0x7FF << 52) | (UInt64.random(in: 1...2046, using: &rng) << 52))) }
        for x in samples {
            let text = JSONValue.number(x).serialized()
            let parsed = try JSONValue(parsing: text)
            let back = try #require(parsed.doubleValue, "\(text)")
            #expect(back.bitPattern == x.bitPattern || (x == 0 && back == 0 && text != "-0.0"), "\(x) → \(text) → \(back)")
        }
        #expect(JSONValue.integer(Int.min).serialized() == "-9223372036854775808")
        #expect(try JSONValue(parsing: "-9223372036854775808") == .integer(.min))
    }

    @Test func nestedRoundTripPrettyAndCompact() throws {
        let value = JSONValue.object([
            ("command", .string("clean")),
            ("trace", .array([.object([("iteration", .integer(0)), ("loss", .number(0.693))]),
                              .object([("iteration", .integer(1)), ("loss", .number(0.5))])])),
            ("empty", .object([])), ("none", .array([])), ("flag", .bool(false)),
        ])
        #expect(try JSONValue(parsing: value.serialized()) == value)
        #expect(try JSONValue(parsing: value.serialized(pretty: true)) == value)
        #expect(value.serialized(pretty: true).contains("\n  \"trace\": [\n    {\n      \"iteration\": 0,"))
        #expect(value["command"] == .string("clean"))
        #expect(value["missing"] == nil)
    }

    @Test func parserRejectsMalformedText() throws {
        let bad = ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "1e", "\"abc", "tru", "[1] 2", "{\"a\":1,}",
                   "\"\\x\"", "\"\\ud800\"", "\"a\u{01}b\"", "NaN", "-", "+1"]
        for text in bad {
            #expect(throws: JSONParseError.self, "\(text)") { try JSONValue(parsing: text) }
        }
        #expect(try JSONValue(parsing: " [ 1 , 2.5e3 , \"\\u00e9\\ud83d\\ude00\" ] ") == .array([.integer(1), .number(2500), .string("é😀")]))
    }

    @Test func nullParsesBackFromNaN() throws {
        let value = JSONValue.object([("auroc", .number(.nan))])
        #expect(try JSONValue(parsing: value.serialized()) == .object([("auroc", .null)]))
    }
}
