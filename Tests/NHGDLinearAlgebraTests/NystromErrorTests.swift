import NHGDLinearAlgebra
import NHGDTestSupport
import Testing

/// Every bad input to the Nyström types gets its typed error, naming the argument (and for
/// NaN/∞ the index into its column-major storage), and leaves caller-owned outputs bit for bit
/// as they were. Sizes as in the property tests, p ∈ 1…100.
struct NystromErrorTests {
    typealias Kind = LowRankPlusDiagonalErrorTests.Kind

    static func kind(_ error: any Error) -> Kind { LowRankPlusDiagonalErrorTests.kind(error) }

    static func isNonFinite(_ argument: String, _ index: Int) -> (any Error) -> Bool {
        { error in
            guard case .nonFinite(_, let name, let at) = error as? LinearAlgebraError else { return false }
            return name == argument && at == index
        }
    }

    /// `body` must throw an error of `kind`.
    static func expect(_ c: PropertyCase, _ what: String, _ kind: Kind, _ body: () throws -> Void) throws {
        try c.expectThrows(what, matching: { Self.kind($0) == kind }) { try body() }
    }

    @Test func badSketchesAndTestMatricesAreTypedErrors() throws {
        try forAll("Nyström bad inputs", cases: 40) { c in
            let p = c.size(1...100), k = c.int(in: 1...p)
            let h = PlantedPSD(&c, dimension: p, eigenvalues: PlantedSpectrum.polynomial.values(&c, count: p, scale: 1))
            let omega = try NystromTestMatrix.draw(drawColumns(&c, dimension: p, rank: k), dimension: p, count: k, using: &c.rng)
            let y = try h.sketch(omega)
            let (row, column) = (c.int(in: 0...(p - 1)), c.int(in: 0...(k - 1)))
            let poison = [Double.nan, .infinity, -.infinity][c.int(in: 0...2)]
            c.note("p=\(p) k=\(k) \(omega.columnCount) columns, bad entry (\(row), \(column)) = \(poison)")
            // The sketch: shape first, then finiteness.
            try Self.expect(c, "Y with a row too many", .dimensionMismatch) {
                _ = try NystromApproximation(testMatrix: omega, sketch: Matrix(rows: p + 1, columns: k))
            }
            try Self.expect(c, "Y with a column too few", .dimensionMismatch) {
                _ = try NystromApproximation(testMatrix: omega, sketch: Matrix(rows: p, columns: k - 1))
            }
            var poisoned = y
            poisoned[row, column] = poison
            try c.expectThrows("Y with \(poison)", matching: Self.isNonFinite("sketch Y", row + column * p)) {
                try NystromApproximation(testMatrix: omega, sketch: poisoned)
            }
            var tall = Matrix(rows: p + 1, columns: k)
            tall[row, column] = poison
            try Self.expect(c, "Y of the wrong shape with \(poison)", .dimensionMismatch) {
                _ = try NystromApproximation(testMatrix: omega, sketch: tall)
            }
            // The test matrix: non-finite, a zero column, k outside 1…p, bad coordinates.
            var dense = omega.materialized()
            dense[row, column] = poison
            try c.expectThrows("Ω with \(poison)", matching: Self.isNonFinite("test matrix Ω", row + column * p)) {
                try NystromApproximation(testMatrix: .dense(dense), sketch: y)
            }
            var zeroColumn = omega.materialized()
            for i in 0..<p { zeroColumn[i, column] = 0 }
            try Self.expect(c, "Ω with a zero column", .invalidArgument) {
                _ = try NystromApproximation(testMatrix: .dense(zeroColumn), sketch: y)
            }
            try Self.expect(c, "k = p + 1", .invalidArgument) {
                _ = try NystromApproximation(testMatrix: .dense(c.gaussianMatrix(rows: p, columns: p + 1)),
                                             sketch: Matrix(rows: p, columns: p + 1))
            }
            try Self.expect(c, "k = 0", .invalidArgument) {
                _ = try NystromApproximation(testMatrix: .dense(Matrix(rows: p, columns: 0)), sketch: Matrix(rows: p, columns: 0))
            }
            try Self.expect(c, "no coordinates", .invalidArgument) {
                _ = try NystromApproximation(testMatrix: .coordinates(indices: [], dimension: p), sketch: Matrix(rows: p, columns: 0))
            }
            for bad in [-1, p, p + 7] {
                try Self.expect(c, "coordinate \(bad)", .invalidArgument) {
                    _ = try NystromApproximation(testMatrix: .coordinates(indices: [bad], dimension: p), sketch: Matrix(rows: p, columns: 1))
                }
            }
            if p >= 2 {
                let i = c.int(in: 0...(p - 1))
                try Self.expect(c, "a repeated coordinate", .invalidArgument) {
                    _ = try NystromApproximation(testMatrix: .coordinates(indices: [i, i], dimension: p), sketch: Matrix(rows: p, columns: 2))
                }
            }
            for count in [0, -3, p + 1] {
                try Self.expect(c, "draw \(count) columns", .invalidArgument) {
                    _ = try NystromTestMatrix.draw(.coordinates, dimension: p, count: count, using: &c.rng)
                }
            }
            // Not the sketch of a PSD operator: −HΩ, whose core is negative definite. The shift is
            // raised three times (to 10⁶ν, still ~1e-9‖H‖) and then the input is refused.
            try Self.expect(c, "Y = −HΩ", .invalidArgument) {
                _ = try NystromApproximation(testMatrix: omega, sketch: Matrix(rows: p, columns: k, storage: y.storage.map { -$0 }))
            }
        }
    }

    @Test func badApplyArgumentsAreTypedErrorsAndLeaveTheOutputAlone() throws {
        try forAll("Nyström apply bad inputs", cases: 40) { c in
            let p = c.size(1...100), k = c.int(in: 1...p)
            let h = PlantedPSD(&c, dimension: p, eigenvalues: PlantedSpectrum.exponential.values(&c, count: p, scale: 1))
            let omega = try NystromTestMatrix.draw(drawColumns(&c, dimension: p, rank: k), dimension: p, count: k, using: &c.rng)
            let nystrom = try NystromApproximation(testMatrix: omega, sketch: try h.sketch(omega))
            let rho = c.logUniform(in: 1e-6...1)
            let bad = c.int(in: 0...(p - 1))
            let poison = [Double.nan, .infinity, -.infinity][c.int(in: 0...2)]
            c.note("p=\(p) k=\(k) bad index \(bad) = \(poison) ρ=\(rho)")
            for damping in [0, -rho, -0.0, .nan, .infinity, -.infinity, 1e-320] {
                for (name, build) in [("shiftedInverse", nystrom.shiftedInverse(damping:)), ("preconditioner", nystrom.preconditioner(damping:))] {
                    try c.expectThrows("\(name) with ρ = \(damping)", matching: { Self.kind($0) == .invalidArgument }) {
                        try build(damping)
                    }
                }
            }
            let inverse = try nystrom.shiftedInverse(damping: rho)
            let v = c.vector(count: p)
            var poisoned = v
            poisoned[bad] = poison
            let operators: [(String, any LinearOperator)] = [("Ĥ", nystrom), ("(Ĥ + ρI)⁻¹", inverse),
                                                               ("P⁻¹", try nystrom.preconditioner(damping: rho))]
            for (name, op) in operators {
                let original = c.vector(count: p)
                for (what, input, outputLength, kind) in [
                    ("short v", Array(v.dropLast()), p, Kind.dimensionMismatch),
                    ("long v", v + [1], p, .dimensionMismatch),
                    ("short output", v, p - 1, .dimensionMismatch),
                    ("v with \(poison)", poisoned, p, .nonFinite(index: bad)),
                ] {
                    var output = outputLength == p ? original : Array(original.prefix(outputLength))
                    let before = output.map(\.bitPattern)
                    try c.expectThrows("\(name): \(what)", matching: { Self.kind($0) == kind }) { try op.apply(input, into: &output) }
                    try c.expect(output.map(\.bitPattern) == before, "\(name): \(what) changed the output")
                }
                try c.expectThrows("\(name): block with a row too many", matching: { Self.kind($0) == .dimensionMismatch }) {
                    try op.apply(block: Matrix(rows: p + 1, columns: 2))
                }
                var block = c.gaussianMatrix(rows: p, columns: 3)
                let column = c.int(in: 0...2)
                block[bad, column] = poison
                try c.expectThrows("\(name): block with \(poison)", matching: { Self.kind($0) == .nonFinite(index: bad + column * p) }) {
                    try op.apply(block: block)
                }
            }
            // The caller-owned block apply: wrong output shape or a bad block leave the output alone.
            var block = c.gaussianMatrix(rows: p, columns: 2)
            for (what, shape) in [("output with a column too many", (p, 3)), ("output with a row too few", (p - 1, 2))] {
                var output = Matrix(rows: shape.0, columns: shape.1, repeating: 0.5)
                let before = output
                try c.expectThrows("apply(block:into:) \(what)", matching: { Self.kind($0) == .dimensionMismatch }) {
                    try inverse.apply(block: block, into: &output)
                }
                try c.expect(output == before, "\(what): the output changed")
            }
            block[bad, 1] = poison
            var output = Matrix(rows: p, columns: 2, repeating: 0.25)
            try c.expectThrows("apply(block:into:) with \(poison)", matching: { Self.kind($0) == .nonFinite(index: bad + p) }) {
                try inverse.apply(block: block, into: &output)
            }
            try c.expect(output == Matrix(rows: p, columns: 2, repeating: 0.25), "a refused block changed the output")
            try c.expectThrows("materialized within 8 bytes", matching: {
                if case .tooLargeToMaterialize = $0 as? LinearAlgebraError { return true }
                return false
            }) { try nystrom.materialized(maxBytes: 8 * p * p - 1) }
        }
    }
}
