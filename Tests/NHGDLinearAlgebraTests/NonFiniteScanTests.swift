import NHGDLinearAlgebra
import NHGDTestSupport
import Testing

/// `firstNonFiniteIndex` against the obvious scalar scan. Lengths cross the 16-element chunks
/// of the vectorised pass and its scalar tail; values include signed zeros, subnormals and the
/// largest finite doubles (whose `x·0` is still 0), and 0–3 planted NaNs or infinities.
struct NonFiniteScanTests {
    @Test func agreesWithTheScalarScan() throws {
        let specials: [Double] = [0, -0.0, .leastNonzeroMagnitude, -.leastNormalMagnitude,
                                  .greatestFiniteMagnitude, -.greatestFiniteMagnitude]
        let nonFinite: [Double] = [.nan, -.nan, .infinity, -.infinity, .signalingNaN]
        try forAll("firstNonFiniteIndex vs scan", cases: 300) { c in
            let n = c.size(0...200)
            var values = c.vector(count: n)
            for i in values.indices where c.int(in: 0...9) == 0 { values[i] = specials[c.int(in: 0...specials.count - 1)] }
            if n > 0 {
                for _ in 0..<c.int(in: 0...3) { values[c.int(in: 0...n - 1)] = nonFinite[c.int(in: 0...nonFinite.count - 1)] }
            }
            let expected = values.firstIndex { !$0.isFinite }
            c.note("n=\(n) first non-finite at \(String(describing: expected))")
            try c.expect(values.firstNonFiniteIndex == expected, "got \(String(describing: values.firstNonFiniteIndex))")
            let m = try Matrix(rows: n, columns: 1, storage: values)
            try c.expect(m.firstNonFiniteIndex == expected, "matrix: got \(String(describing: m.firstNonFiniteIndex))")
        }
    }
}
