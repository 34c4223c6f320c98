import NHGDLinearAlgebra
import NHGDTestSupport
import Testing

/// Every bad input to `LowRankPlusDiagonal` gets its typed error and leaves the operator
/// exactly as it was (including its cached factorisation); the cache is used for the damping
/// it was built for and dropped or rebuilt otherwise.
struct LowRankPlusDiagonalErrorTests {
    /// The error's case name and, for `nonFinite`, its index.
    enum Kind: Equatable { case dimensionMismatch, nonFinite(index: Int), invalidArgument, other }

    static func kind(_ error: any Error) -> Kind {
        switch error as? LinearAlgebraError {
        case .dimensionMismatch: return .dimensionMismatch
        case .nonFinite(_, _, let index): return .nonFinite(index: index)
        case .invalidArgument: return .invalidArgument
        default: return .other
        }
    }

    /// `d` and `U` as bit patterns: `==` on doubles identifies −0.0 with +0.0, so it alone
    /// could miss a call that flipped the sign of a zero.
    static func bits(_ op: LowRankPlusDiagonal) -> [UInt64] {
        op.diagonal.map(\.bitPattern) + [UInt64(op.factor.rows), UInt64(op.factor.columns)]
            + op.factor.storage.map(\.bitPattern)
    }

    /// Runs `body` on a copy of `op`, which must throw an error of `kind` and leave it `== op`
    /// (which covers the cached factorisation) with `d` and `U` bit-for-bit as they were.
    func expectRejected(
        _ c: PropertyCase, _ what: String, _ op: LowRankPlusDiagonal, _ kind: Kind,
        _ body: (inout LowRankPlusDiagonal) throws -> Void
    ) throws {
        var copy = op
        try c.expectThrows(what, matching: { Self.kind($0) == kind }) { try body(&copy) }
        try c.expect(copy == op && Self.bits(copy) == Self.bits(op) && copy.byteCount == op.byteCount,
                     "\(what): the operator changed although the call threw")
    }

    /// Sizes are the issue's, p ∈ 1…300 and k ∈ 0…min(p, 64); the checks run before any work
    /// that depends on them, so the largest case still takes milliseconds.
    @Test func badInputsAreTypedErrorsAndChangeNothing() throws {
        try forAll("bad inputs", cases: 40) { c in
            let p = c.size(1...300), k = c.size(0...min(p, 64))
            let d = c.logUniformVector(count: p, in: 0.1...10)
            let u = c.gaussianMatrix(rows: p, columns: k)
            var op = try LowRankPlusDiagonal(diagonal: d, factor: u)
            let lambda = c.logUniform(in: 1e-4...1)
            // Half the cases start from a cached factorisation, which must survive too.
            if c.bool() { _ = try op.solve(c.vector(count: p), damping: lambda) }
            let bad = c.int(in: 0...(p - 1))
            let poison = [Double.nan, .infinity, -.infinity][c.int(in: 0...2)]
            c.note("p=\(p) k=\(k) bad index \(bad) value \(poison)")
            var v = c.vector(count: p)
            let short = Array(v.dropLast()), long = v + [1]
            var poisoned = v
            poisoned[bad] = poison

            // Construction.
            try c.expectThrows("init with short d", matching: { Self.kind($0) == .dimensionMismatch }) {
                try LowRankPlusDiagonal(diagonal: Array(d.dropLast()), factor: u)
            }
            var poisonedD = d
            poisonedD[bad] = poison
            try c.expectThrows("init with non-finite d", matching: { Self.kind($0) == .nonFinite(index: bad) }) {
                try LowRankPlusDiagonal(diagonal: poisonedD, factor: u)
            }
            if k > 0 {
                var poisonedU = u
                let j = c.int(in: 0...(k - 1))
                poisonedU[bad, j] = poison
                try c.expectThrows("init with non-finite U", matching: { Self.kind($0) == .nonFinite(index: bad + j * p) }) {
                    try LowRankPlusDiagonal(diagonal: d, factor: poisonedU)
                }
                try expectRejected(c, "update with non-finite U", op, .nonFinite(index: bad + j * p)) {
                    try $0.update(factor: poisonedU)
                }
            }
            // Updates.
            try expectRejected(c, "update with short d", op, .dimensionMismatch) { try $0.update(diagonal: short) }
            try expectRejected(c, "update with non-finite d", op, .nonFinite(index: bad)) { try $0.update(diagonal: poisonedD) }
            try expectRejected(c, "update with U of wrong rows", op, .dimensionMismatch) {
                try $0.update(factor: Matrix(rows: p + 1, columns: k))
            }
            // Apply.
            try expectRejected(c, "apply with short v", op, .dimensionMismatch) { _ = try $0.apply(short) }
            try expectRejected(c, "apply with non-finite v", op, .nonFinite(index: bad)) { _ = try $0.apply(poisoned) }
            try expectRejected(c, "apply into short y", op, .dimensionMismatch) { op in
                var y = [Double](repeating: 0, count: p - 1)
                try op.apply(v, into: &y)
            }
            try expectRejected(c, "block apply with wrong rows", op, .dimensionMismatch) {
                _ = try $0.apply(block: Matrix(rows: p + 1, columns: 2))
            }
            // Solves.
            try expectRejected(c, "solve with long v", op, .dimensionMismatch) { _ = try $0.solve(long, damping: lambda) }
            try expectRejected(c, "solve with non-finite v", op, .nonFinite(index: bad)) {
                _ = try $0.solve(poisoned, damping: lambda)
            }
            var block = try Matrix(columns: [v, poisoned])
            try expectRejected(c, "block solve with non-finite V", op, .nonFinite(index: p + bad)) {
                _ = try $0.solve(block: block, damping: lambda)
            }
            block = Matrix(rows: p - 1, columns: 1)
            try expectRejected(c, "block solve with wrong rows", op, .dimensionMismatch) {
                _ = try $0.solve(block: block, damping: lambda)
            }
            // NaN, +∞ and −∞ anywhere in a block of right-hand sides, for the block apply and
            // the block solve: the error names the first bad element in column-major order,
            // and the shape check comes first (a long block with a NaN is a dimension error).
            let m = c.int(in: 1...4)
            for value in [Double.nan, .infinity, -.infinity] {
                var poisonedBlock = c.gaussianMatrix(rows: p, columns: m)
                let (row, column) = (c.int(in: 0...(p - 1)), c.int(in: 0...(m - 1)))
                poisonedBlock[row, column] = value
                let index = row + column * p
                try expectRejected(c, "block apply with V[\(row), \(column)] = \(value)", op, .nonFinite(index: index)) {
                    _ = try $0.apply(block: poisonedBlock)
                }
                try expectRejected(c, "block solve with V[\(row), \(column)] = \(value)", op, .nonFinite(index: index)) {
                    _ = try $0.solve(block: poisonedBlock, damping: lambda)
                }
                var tall = Matrix(rows: p + 1, columns: m)
                tall[row, column] = value
                try expectRejected(c, "block apply with wrong rows and \(value)", op, .dimensionMismatch) {
                    _ = try $0.apply(block: tall)
                }
                try expectRejected(c, "block solve with wrong rows and \(value)", op, .dimensionMismatch) {
                    _ = try $0.solve(block: tall, damping: lambda)
                }
            }
            let goodBlock = c.gaussianMatrix(rows: p, columns: m)
            for damping in [-lambda, .nan, .infinity, -.infinity] {
                try expectRejected(c, "block solve with damping \(damping)", op, .invalidArgument) {
                    _ = try $0.solve(block: goodBlock, damping: damping)
                }
            }
            for damping in [-lambda, -0.0 - 1e-300, .nan, .infinity] {
                try expectRejected(c, "solve with damping \(damping)", op, .invalidArgument) {
                    _ = try $0.solve(v, damping: damping)
                }
            }
            // A negative number of refinement steps was taken silently as none.
            for steps in [-1, Int.min] {
                try expectRejected(c, "solve with refinementSteps \(steps)", op, .invalidArgument) {
                    _ = try $0.solve(v, damping: lambda, refinementSteps: steps)
                }
                let factorization = try op.factorized(damping: lambda)
                try c.expectThrows("factorisation solve with refinementSteps \(steps)", matching: { Self.kind($0) == .invalidArgument }) {
                    _ = try factorization.solve(v, refinementSteps: steps)
                }
            }
            // A non-positive diagonal entry with zero damping: allowed to exist, not to solve with.
            var d0 = d
            d0[bad] = c.bool() ? 0 : -c.double(in: 0.1...1)
            var singular = try LowRankPlusDiagonal(diagonal: d0, factor: u)
            let rhs = c.gaussianMatrix(rows: p, columns: m)
            try expectRejected(c, "solve with d[\(bad)] = \(d0[bad]) and λ = 0", singular, .invalidArgument) {
                _ = try $0.solve(v, damping: 0)
            }
            try expectRejected(c, "block solve with d[\(bad)] = \(d0[bad]) and λ = 0", singular, .invalidArgument) {
                _ = try $0.solve(block: rhs, damping: 0)
            }
            // A positive damping that leaves d + λ ≤ 0 is refused the same way.
            if d0[bad] < 0 {
                let short = -d0[bad] * c.double(in: 0.1...1)
                try expectRejected(c, "block solve with d[\(bad)] + λ = \(d0[bad] + short)", singular, .invalidArgument) {
                    _ = try $0.solve(block: rhs, damping: short)
                }
            }
            // ... but a damping that makes d + λ positive is fine.
            v = try singular.solve(v, damping: abs(d0[bad]) + 0.5)
            try c.expect(v.allSatisfy(\.isFinite), "solve with d + λ > 0 failed")
            // With that factorisation cached, λ = 0 is still refused, for one right-hand side
            // and for a block, and the cached factorisation survives.
            try expectRejected(c, "cached: solve with d[\(bad)] = \(d0[bad]) and λ = 0", singular, .invalidArgument) {
                _ = try $0.solve(v, damping: 0)
            }
            try expectRejected(c, "cached: block solve with d[\(bad)] = \(d0[bad]) and λ = 0", singular, .invalidArgument) {
                _ = try $0.solve(block: rhs, damping: 0)
            }
        }
    }

    @Test func theCacheIsKeyedByDampingAndDroppedOnUpdate() throws {
        try forAll("factorisation cache", cases: 30) { c in
            let p = c.size(1...100), k = c.size(1...min(p, 16))
            let d = c.logUniformVector(count: p, in: 0.1...10)
            let u = c.gaussianMatrix(rows: p, columns: k)
            let v = c.vector(count: p)
            let l1 = c.logUniform(in: 1e-3...1), l2 = l1 * c.double(in: 1.5...10)
            c.note("p=\(p) k=\(k) λ1=\(l1) λ2=\(l2)")
            var op = try LowRankPlusDiagonal(diagonal: d, factor: u)
            let bare = op.byteCount
            try c.expect(bare == (p + p * k) * 8, "byteCount without a factorisation")

            // First solve at λ1 builds and keeps a factorisation equal to a fresh one.
            let x1 = try op.solve(v, damping: l1)
            let fresh1 = try op.factorized(damping: l1)
            try c.expect(op.byteCount == bare + fresh1.byteCount, "the factorisation was not cached")
            try c.expect(try op.factorization(damping: l1) == fresh1, "cached factorisation differs from a fresh one")
            try c.expect(x1 == (try fresh1.solve(v)), "solve differs from the fresh factorisation's")
            // Same λ again: nothing changes (the cached one is reused, not replaced).
            let afterFirst = op
            let again = try op.solve(v, damping: l1)
            try c.expect(again == x1 && op == afterFirst, "a second solve at the same λ changed the state")
            // New λ: rebuilt for λ2, and the solution is λ2's.
            let x2 = try op.solve(v, damping: l2)
            let fresh2 = try op.factorized(damping: l2)
            try c.expect(op != afterFirst, "changing λ did not rebuild the factorisation")
            try c.expect(try op.factorization(damping: l2).damping == l2, "cache holds the wrong λ")
            try c.expect(x2 == (try fresh2.solve(v)) && x2 != x1, "solve at λ2 did not use λ2")
            // factorized(damping:) never touches the cache.
            let beforeProbe = op
            _ = try op.factorized(damping: l1)
            try c.expect(op == beforeProbe, "factorized(damping:) changed the cache")
            // Back to λ1: identical to the first state.
            _ = try op.solve(v, damping: l1)
            try c.expect(op == afterFirst, "returning to λ1 did not restore λ1's factorisation")
            // Update drops the cache; the next solve uses the new diagonal.
            let newD = d.map { $0 * 2 }
            try op.update(diagonal: newD)
            try c.expect(op.byteCount == bare, "update did not drop the cache")
            let x3 = try op.solve(v, damping: l1)
            let expected = try LowRankPlusDiagonal(diagonal: newD, factor: u).factorized(damping: l1).solve(v)
            try c.expect(x3 == expected, "after update the solve used a stale factorisation")
        }
    }
}
