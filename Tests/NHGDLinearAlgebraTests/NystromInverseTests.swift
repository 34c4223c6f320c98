import Foundation
import NHGDLinearAlgebra
import NHGDTestSupport
import Testing

/// `NystromInverse` (`(Ĥ + ρI)⁻¹` and FTU's preconditioner `P⁻¹`): that it evaluates its
/// formula to BLAS accuracy, that the formula inverts `Ĥ + ρI` (resp. P) as far as U's
/// orthonormality allows, and the spectral bounds that `0 ⪯ Ĥ ⪯ H` implies for both.
struct NystromInverseTests {
    /// An operator `m₀I + U diag(m) Uᵀ` given by its scalars (the tail is absent for k = p).
    struct BasisOperator {
        var tail: Double
        var coefficients: [Double]
    }

    /// The documented formula of each form, `x = αv + U(c ⊙ Uᵀv)` (as ``BasisOperator``), and the
    /// operator it inverts (`Ĥ + ρI`, or P), computed as the documentation states.
    static func forms(_ nystrom: NystromApproximation, damping rho: Double, _ form: NystromInverse.Form)
        -> (inverse: BasisOperator, inverted: BasisOperator) {
        let lambda = nystrom.eigenvalues, smallest = lambda.last!
        let full = nystrom.rank == nystrom.dimension
        switch form {
        case .shiftedInverse:
            let inverse = full ? BasisOperator(tail: 0, coefficients: lambda.map { 1 / ($0 + rho) })
                : BasisOperator(tail: 1 / rho, coefficients: lambda.map { -$0 / (rho * ($0 + rho)) })
            let inverted = full ? BasisOperator(tail: 0, coefficients: lambda.map { $0 + rho })
                : BasisOperator(tail: rho, coefficients: lambda)
            return (inverse, inverted)
        case .preconditioner:
            let inverse = full ? BasisOperator(tail: 0, coefficients: lambda.map { (smallest + rho) / ($0 + rho) })
                : BasisOperator(tail: 1, coefficients: lambda.map { (smallest - $0) / ($0 + rho) })
            let inverted = full ? BasisOperator(tail: 0, coefficients: lambda.map { ($0 + rho) / (smallest + rho) })
                : BasisOperator(tail: 1, coefficients: lambda.map { ($0 - smallest) / (smallest + rho) })
            return (inverse, inverted)
        }
    }

    /// `m₀v + U(m ⊙ Uᵀv)` in doubled precision (an error of about eps·|result|): `Uᵀv` as
    /// double-doubles, then each entry summed compensated.
    static func accurateApply(_ basis: Matrix, _ op: BasisOperator, _ v: [Double]) -> (hi: [Double], lo: [Double]) {
        let p = basis.rows, k = basis.columns
        var tHi = [Double](repeating: 0, count: k), tLo = [Double](repeating: 0, count: k)
        for j in 0..<k {
            var s = CompensatedSum()
            for i in 0..<p { s.addProduct(basis[i, j], v[i]) }
            // (hi + lo)·m_j as a double-double.
            let product = s.hi * op.coefficients[j]
            tHi[j] = product
            tLo[j] = fmaError(s.hi, op.coefficients[j], product) + s.lo * op.coefficients[j]
        }
        var hi = [Double](repeating: 0, count: p), lo = [Double](repeating: 0, count: p)
        for i in 0..<p {
            var s = CompensatedSum()
            s.addProduct(op.tail, v[i])
            for j in 0..<k {
                s.addProduct(basis[i, j], tHi[j])
                s.addProduct(basis[i, j], tLo[j])
            }
            hi[i] = s.hi
            lo[i] = s.lo
        }
        return (hi, lo)
    }

    /// A Nyström approximation of a planted H for a case, with its damping ρ.
    func approximation(_ c: inout PropertyCase, maxDimension: Int = 100, fullRank: Bool = false)
        throws -> (PlantedPSD, NystromApproximation, Double) {
        let p = c.size(1...maxDimension)
        let k = fullRank ? p : c.int(in: 1...p)
        let spectrum = PlantedSpectrum.allCases[c.int(in: 0...3)]
        let r = c.bool() ? p : c.int(in: 1...p)
        let h = PlantedPSD(&c, dimension: p, eigenvalues: spectrum.values(&c, count: r, scale: c.logUniform(in: 1e-3...1e3)))
        let columns = drawColumns(&c, dimension: p, rank: k)
        let omega = try NystromTestMatrix.draw(columns, dimension: p, count: k, using: &c.rng)
        let nystrom = try NystromApproximation(testMatrix: omega, sketch: try h.sketch(omega))
        let rho = h.norm * c.logUniform(in: 1e-10...10)
        c.note("p=\(p) k=\(k) r=\(r) \(spectrum) ‖H‖=\(h.norm) \(columns) ρ=\(rho) ν=\(nystrom.stabilizingShift)")
        return (h, nystrom, rho)
    }

    /// The apply evaluates `αv + U(c ⊙ Uᵀv)`: against the doubled-precision evaluation of the
    /// documented coefficients, componentwise within `γ_{p+k+6}(|α||v| + |U||c|(|Uᵀ||v|))` (two
    /// `gemv`s, Higham §3.5, plus three roundings in each coefficient), doubled for the
    /// `1/(1 − nu)` factors; the block apply and the caller-owned block apply agree with the
    /// column applies to twice that. Both forms, k < p and k = p (tail dropped).
    @Test func applyEvaluatesTheFormula() throws {
        try forAll("NystromInverse formula", cases: 60) { c in
            let (_, nystrom, rho) = try approximation(&c, fullRank: c.int(in: 0...3) == 0)
            let p = nystrom.dimension, k = nystrom.rank
            let absU = absolute(nystrom.basis)
            let m = c.int(in: 1...4)
            let vs = c.gaussianMatrix(rows: p, columns: m)
            for form in [NystromInverse.Form.shiftedInverse, .preconditioner] {
                let op = form == .shiftedInverse ? try nystrom.shiftedInverse(damping: rho) : try nystrom.preconditioner(damping: rho)
                try c.expect(op.form == form && op.damping == rho && op.dimension == p && op.rank == k, "\(form): properties")
                let formula = Self.forms(nystrom, damping: rho, form).inverse
                let block = try op.apply(block: vs)
                var into = Matrix(rows: p, columns: m, repeating: .nan)
                try op.apply(block: vs, into: &into)
                let gamma = 2 * Double(p + k + 6) * eps
                for j in 0..<m {
                    let v = vs.column(j)
                    var x = [Double](repeating: .nan, count: p)
                    try op.apply(v, into: &x)
                    let exact = Self.accurateApply(nystrom.basis, formula, v).hi
                    let inner = referenceProduct(absU.transposed, v.map(abs))
                    let size = referenceProduct(absU, zip(inner, formula.coefficients).map { $0 * abs($1) })
                    for i in 0..<p {
                        let bound = gamma * (abs(formula.tail * v[i]) + size[i])
                        try c.expect(abs(x[i] - exact[i]) <= bound, "\(form): x[\(i)] = \(x[i]) vs formula \(exact[i]), bound \(bound)")
                        try c.expect(abs(block[i, j] - x[i]) <= 2 * bound, "\(form): block [\(i), \(j)] vs column apply")
                        try c.expect(into[i, j] == block[i, j], "\(form): apply(block:into:) differs from apply(block:)")
                    }
                }
            }
        }
    }

    /// The formula inverts its operator M (`Ĥ + ρI = ρI + UΛUᵀ`, or
    /// `P = I + U diag((λ − λ_k)/(λ_k + ρ)) Uᵀ`; for k = p without the identity): with
    /// `F = UᵀU − I`, `M·(αI + U diag(c) Uᵀ) = I + U diag(m) F diag(c) Uᵀ` exactly (plus
    /// `UUᵀ − I`, of norm ‖F‖, when k = p), so the residual of the computed x, `v − Mx` in doubled
    /// precision, is at most `[‖F‖] + ‖F‖(1 + ‖F‖)·max|m|·max|c|` times ‖v‖ plus ‖M‖ times the
    /// apply's rounding (bounded as in ``applyEvaluatesTheFormula()``), with 10 % for the
    /// second-order terms.
    @Test func formulaInvertsTheShiftedApproximationAndThePreconditioner() throws {
        try forAll("NystromInverse inverts Ĥ + ρI and P", cases: 60) { c in
            let (_, nystrom, rho) = try approximation(&c, fullRank: c.int(in: 0...3) == 0)
            let p = nystrom.dimension, k = nystrom.rank
            var gram = Matrix(rows: k, columns: k)
            try BLAS.syrk(.transpose, nystrom.basis, &gram)
            for i in 0..<k { gram[i, i] -= 1 }
            let f = try spectralNorm(gram)
            let absU = absolute(nystrom.basis)
            let v = c.vector(count: p)
            for form in [NystromInverse.Form.shiftedInverse, .preconditioner] {
                let op = form == .shiftedInverse ? try nystrom.shiftedInverse(damping: rho) : try nystrom.preconditioner(damping: rho)
                let (inverse, inverted) = Self.forms(nystrom, damping: rho, form)
                let x = try op.apply(v)
                let mx = Self.accurateApply(nystrom.basis, inverted, x)
                let residual = (0..<p).map { i in (v[i] - mx.hi[i]) - mx.lo[i] }
                let maxM = inverted.coefficients.map(abs).max()!, maxC = inverse.coefficients.map(abs).max()!
                let normM = abs(inverted.tail) + maxM * (1 + f)
                let inner = referenceProduct(absU.transposed, v.map(abs))
                let size = referenceProduct(absU, zip(inner, inverse.coefficients).map { $0 * abs($1) })
                let applyError = 2 * Double(p + k + 6) * eps * BLAS.norm(zip(v, size).map { abs(inverse.tail * $0) + $1 })
                let bound = 1.1 * (((k == p ? f : 0) + f * (1 + f) * maxM * maxC) * BLAS.norm(v) + normM * applyError)
                try c.expect(BLAS.norm(residual) <= bound,
                             "\(form): ‖v − Mx‖ = \(BLAS.norm(residual)) above \(bound) (‖F‖ = \(f / eps) eps)")
            }
        }
    }

    /// What `0 ⪯ Ĥ ⪯ H` implies, with `E = H − Ĥ` (doubled-precision difference) and
    /// `τ = max(0, −λ_min(E)) ≤ ν + δ` (the Löwner test):
    /// - shifted inverse: `Ĥ + ρI ⪯ H + ρI + τI` and `H + ρI ⪯ Ĥ + ρI + ‖E‖I ⪯ (1 + ‖E‖/ρ)(Ĥ + ρI)`,
    ///   so `(Ĥ + ρI)^{-1/2}(H + ρI)(Ĥ + ρI)^{-1/2}` has its spectrum in `[1 − τ/ρ, 1 + ‖E‖/ρ]`: used
    ///   as a solver, the shifted inverse's error in the (H + ρI)-norm is at most ‖E‖/ρ (and is 0
    ///   when Ĥ = H);
    /// - preconditioner (FTU, Proposition 5.3): `P^{-1/2}(H + ρI)P^{-1/2}` has its spectrum in
    ///   `[ρ − τ, λ̂_k + ρ + ‖E‖]`, since `P^{-1/2}(Ĥ + ρI)P^{-1/2}` is λ̂_k + ρ on range(U) and ρ off
    ///   it, and `‖P^{-1/2}‖ ≤ 1`.
    /// The square roots are formed in the test from U and Λ (`sI + U diag(w) Uᵀ`), the products
    /// densely: rounding and U's departure from orthonormality F move the computed spectra by at
    /// most `(4p·eps + 3‖F‖)·‖S‖²‖H + ρI‖` (three products of length ≤ p, each factor exact to ‖F‖),
    /// ‖S‖² being 1/ρ for the shifted inverse and 1 for P, doubled for margin on first order.
    @Test func inverseAndPreconditionerSpectraFollowFromTheLoewnerOrder() throws {
        try forAll("spectra of the preconditioned H + ρI", cases: 60) { c in
            let (h, nystrom, rho) = try approximation(&c, maxDimension: 80)
            let p = nystrom.dimension, k = nystrom.rank
            let values = try SymmetricEigendecomposition(h.accurateDifference(nystrom)).values
            let tau = max(0, -values.first!), errorNorm = max(-values.first!, values.last!)
            var gram = Matrix(rows: k, columns: k)
            try BLAS.syrk(.transpose, nystrom.basis, &gram)
            for i in 0..<k { gram[i, i] -= 1 }
            let f = try spectralNorm(gram)
            var shifted = try h.dense()
            for i in 0..<p { shifted[i, i] += rho }
            let lambda = nystrom.eigenvalues, smallest = lambda.last!
            let full = k == p
            // (Ĥ + ρI)^{-1/2} = ρ^{-1/2}I + U diag(1/√(λ+ρ) − 1/√ρ) Uᵀ, and P^{-1/2}.
            let inverseRoot = (tail: full ? 0 : 1 / rho.squareRoot(),
                               w: lambda.map { full ? 1 / ($0 + rho).squareRoot() : 1 / ($0 + rho).squareRoot() - 1 / rho.squareRoot() })
            let preconditionerRoot = (tail: full ? 0.0 : 1,
                                      w: lambda.map { full ? ((smallest + rho) / ($0 + rho)).squareRoot()
                                                           : ((smallest + rho) / ($0 + rho)).squareRoot() - 1 })
            for (name, root, normSquared, lower, upper) in [
                ("shifted inverse", inverseRoot, 1 / rho, 1 - tau / rho, 1 + errorNorm / rho),
                ("preconditioner", preconditionerRoot, 1.0, rho - tau, smallest + rho + errorNorm),
            ] {
                var s = Matrix.identity(p)
                for i in 0..<(p * p) { s.storage[i] *= root.tail }
                var scaled = nystrom.basis
                for j in 0..<k { for i in 0..<p { scaled[i, j] *= root.w[j] } }
                try BLAS.gemm(.none, .transpose, scaled, nystrom.basis, beta: 1, &s)
                var t = Matrix(rows: p, columns: p), m = Matrix(rows: p, columns: p)
                try BLAS.gemm(.none, .none, s, shifted, &t)
                try BLAS.gemm(.none, .none, t, s, &m)
                m.symmetrizeFromLower()
                let spectrum = try SymmetricEigendecomposition(m).values
                let slack = 2 * (4 * Double(p) * eps + 3 * f) * normSquared * (h.norm + rho)
                try c.expect(spectrum.first! >= lower - slack, "\(name): smallest \(spectrum.first!) below \(lower) − \(slack)")
                try c.expect(spectrum.last! <= upper + slack, "\(name): largest \(spectrum.last!) above \(upper) + \(slack)")
            }
        }
    }
}
