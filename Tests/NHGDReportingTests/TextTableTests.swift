import NHGDReporting
import Testing

@Suite("TextTable and NumberFormatting")
struct TextTableTests {
    @Test func numbersAreRightAlignedAndTextLeftAligned() {
        var table = TextTable(headers: ["estimator", "seconds", "accuracy", "note"])
        table.append(["nhgd", "1.23", "91.2%", "fast"])
        table.append(["neumann", "14.5", "90.8%", ""])
        table.append(["cg", "-", "nan", "12 ok"])
        #expect(table.alignments == [.left, .right, .right, .left])
        #expect(table.render() == """
        estimator  seconds  accuracy  note
        ---------  -------  --------  -----
        nhgd          1.23     91.2%  fast
        neumann       14.5     90.8%
        cg               -       nan  12 ok

        """)
    }

    @Test func everyLineOfAColumnHasTheSameWidth() {
        var table = TextTable(headers: ["a", "b"])
        table.append(["µs-long-text", "1"])
        table.append(["x", "12345"])
        let lines = table.render(separator: " | ").split(separator: "\n")
        #expect(lines.count == 4)
        let bars = lines.map { line in line.distance(from: line.startIndex, to: line.firstIndex(of: "|")!) }
        #expect(Set(bars).count == 1)
        #expect(lines[2].hasSuffix("    1"))
    }

    @Test func significantDigits() {
        #expect(NumberFormatting.significant(0.0012345, digits: 3) == "0.00123")
        #expect(NumberFormatting.significant(123456789, digits: 4) == "1.235e+08")
        #expect(NumberFormatting.significant(2, digits: 4) == "2")
        #expect(NumberFormatting.significant(.nan) == "nan")
        #expect(NumberFormatting.significant(-.infinity) == "-inf")
        #expect(NumberFormatting.percent(0.9123) == "91.2%")
    }

    @Test func bytes() {
        #expect(NumberFormatting.bytes(0) == "0 B")
        #expect(NumberFormatting.bytes(1023) == "1023 B")
        #expect(NumberFormatting.bytes(1536) == "1.5 KiB")
        #expect(NumberFormatting.bytes(3 * 1024 * 1024) == "3.0 MiB")
        #expect(NumberFormatting.bytes(-2048) == "-2.0 KiB")
    }

    @Test func durations() {
        #expect(NumberFormatting.duration(0) == "0 s")
        #expect(NumberFormatting.duration(8.5e-7) == "850 ns")
        #expect(NumberFormatting.duration(1.234e-5) == "12.3 µs")
        #expect(NumberFormatting.duration(0.004567) == "4.57 ms")
        #expect(NumberFormatting.duration(1.234) == "1.23 s")
        #expect(NumberFormatting.duration(123) == "2m 03s")
        #expect(NumberFormatting.duration(3720) == "1h 02m")
        #expect(NumberFormatting.duration(-1.5) == "-1.50 s")
    }
}
