import NHGDLinearAlgebra
import NHGDTestSupport
import Testing

/// The runner: deterministic seeds, budgets growing to 1, shrinking, failure reports and replay
/// through an injected environment (never the real one).
struct ForAllTests {
    /// Seeds and budgets seen by `forAll` over `environment`.
    func trace(_ name: String, cases: Int = 10, environment: [String: String] = [:]) throws -> [(UInt64, Double)] {
        var seen = [(UInt64, Double)]()
        try forAll(name, cases: cases, environment: environment) { c in seen.append((c.seed, c.sizeBudget)) }
        return seen
    }

    @Test func seedsAreDeterministicAndDistinctAndBudgetsGrowToOne() throws {
        let a = try trace("p"), b = try trace("p"), other = try trace("q")
        #expect(a.map(\.0) == b.map(\.0))
        #expect(Set(a.map(\.0)).count == a.count)
        #expect(Set(a.map(\.0)).isDisjoint(with: other.map(\.0)), "property names must give separate streams")
        #expect(a.map(\.1) == a.map(\.1).sorted())
        #expect(a.last!.1 == 1 && a.first!.1 > 0)
        var base2 = [UInt64]()
        try forAll("p", cases: 10, baseSeed: 99, environment: [:]) { c in base2.append(c.seed) }
        #expect(base2 != a.map(\.0))
        let viaEnvironment = try trace("p", environment: [PropertyEnvironment.baseSeedKey: "99"])
        #expect(viaEnvironment.map(\.0) == base2)
    }

    @Test func caseCountComesFromTheEnvironmentWhenSet() throws {
        #expect(try trace("n", cases: 10).count == 10)
        #expect(try trace("n", cases: 10, environment: [PropertyEnvironment.casesKey: "3"]).count == 3)
        #expect(throws: PropertyConfigurationError.self) {
            try trace("n", environment: [PropertyEnvironment.casesKey: "many"])
        }
        #expect(throws: PropertyConfigurationError.self) {
            try trace("n", environment: [PropertyEnvironment.seedKey: "0xZZ"])
        }
        #expect(throws: PropertyConfigurationError.self) {
            try trace("n", environment: [PropertyEnvironment.seedKey: "1", PropertyEnvironment.sizeKey: "2"])
        }
    }

    @Test func replayRunsExactlyTheNamedCase() throws {
        let env = [PropertyEnvironment.seedKey: "0x00000000000000ff", PropertyEnvironment.sizeKey: "0.375",
                   PropertyEnvironment.casesKey: "50"]
        let seen = try trace("anything", environment: env)
        #expect(seen.count == 1)
        #expect(seen[0].0 == 255 && seen[0].1 == 0.375)
        let decimal = try trace("anything", environment: [PropertyEnvironment.seedKey: "255"])
        #expect(decimal.count == 1 && decimal[0].0 == 255 && decimal[0].1 == 1)
    }

    /// A property that fails exactly when the drawn size exceeds 20. Since
    /// `size = 1 + ⌊u·b·300⌋`, halving stops at a budget `lo` with `u·lo·300 < 20` and four
    /// bisection steps leave `hi − lo ≤ lo/16`, so the reported size is at most
    /// `1 + ⌊20·17/16⌋ = 22`, and at least 21 because it still fails.
    func failsAboveTwenty(_ c: inout PropertyCase) throws {
        let p = c.size(1...300)
        let v = c.vector(count: p)
        c.note("p=\(p)")
        try c.expect(p <= 20, "p = \(p) exceeds 20 (‖v‖ = \(BLAS.norm(v)))")
    }

    @Test func shrinkingReducesTheSizeAndReportsAReplayableSeed() throws {
        var failure: PropertyFailure?
        do {
            try forAll("fails above twenty", cases: 40, environment: [:], failsAboveTwenty)
        } catch let f as PropertyFailure {
            failure = f
        }
        let f = try #require(failure)
        // What the unshrunk case drew.
        var original = PropertyCase(seed: f.seed, sizeBudget: f.originalSizeBudget)
        let originalSize = original.size(1...300)
        var shrunk = PropertyCase(seed: f.seed, sizeBudget: f.sizeBudget)
        let shrunkSize = shrunk.size(1...300)
        #expect(originalSize > 20)
        #expect(f.sizeBudget < f.originalSizeBudget)
        #expect(f.shrinkAttempts > 0)
        #expect((21...22).contains(shrunkSize), "shrunk to \(shrunkSize) from \(originalSize)")
        #expect(f.notes == ["p=\(shrunkSize)"])
        #expect(f.property == "fails above twenty")
        #expect(f.testName == "shrinkingReducesTheSizeAndReportsAReplayableSeed")
        let text = f.description
        #expect(text.contains(f.seedHex) && f.seedHex.count == 18)
        #expect(text.contains("p=\(shrunkSize)"))
        #expect(text.contains("NHGD_PROPERTY_SEED=\(f.seedHex) NHGD_PROPERTY_SIZE=\(f.sizeBudget) swift test --filter shrinkingReducesTheSizeAndReportsAReplayableSeed"))

        // Replaying through the environment variables printed in the report reproduces it.
        var replayed: PropertyFailure?
        do {
            try forAll("fails above twenty", environment: [PropertyEnvironment.seedKey: f.seedHex,
                                                           PropertyEnvironment.sizeKey: "\(f.sizeBudget)"], failsAboveTwenty)
        } catch let r as PropertyFailure {
            replayed = r
        }
        let r = try #require(replayed)
        #expect(r.seed == f.seed && r.sizeBudget == f.sizeBudget)
        #expect(r.message == f.message && r.notes == f.notes)
        #expect(r.shrinkAttempts == 0, "a replay runs the case as given")
    }

    struct Boom: Error {}

    @Test func thrownErrorsAreFailuresToo() throws {
        var failure: PropertyFailure?
        do {
            try forAll("throws when large", cases: 20, environment: [:]) { c in
                let n = c.size(0...100)
                c.note("n=\(n)")
                if n > 50 { throw Boom() }
            }
        } catch let f as PropertyFailure {
            failure = f
        }
        let f = try #require(failure)
        #expect(f.message.contains("Boom"))
        #expect(f.sizeBudget < f.originalSizeBudget)
    }

    @Test func passingPropertiesDoNotThrow() throws {
        var count = 0
        try forAll("always", cases: 25, environment: [:]) { c in
            count += 1
            try c.expect(c.size(0...10) <= 10, "in range")
        }
        #expect(count == 25)
    }

    @Test func expectThrowsChecksTheError() throws {
        let c = PropertyCase(seed: 1, sizeBudget: 1)
        try c.expectThrows("right error", matching: { $0 is Boom }) { throw Boom() }
        #expect(throws: PropertyFailure.self) {
            try c.expectThrows("no error", matching: { _ in true }) { 1 }
        }
        #expect(throws: PropertyFailure.self) {
            try c.expectThrows("wrong error", matching: { $0 is PropertyFailure }) { throw Boom() }
        }
    }
}
