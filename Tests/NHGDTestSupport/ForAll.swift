import Foundation
import NHGDLinearAlgebra

/// Environment variables read by ``forAll(_:cases:baseSeed:environment:function:_:)``.
public enum PropertyEnvironment {
    /// Replays one case: its seed (decimal or `0x` hex). Every `forAll` in the run then executes
    /// only that case, so pair it with `swift test --filter`.
    public static let seedKey = "NHGD_PROPERTY_SEED"
    /// The size budget in [0, 1] of the replayed case (default 1).
    public static let sizeKey = "NHGD_PROPERTY_SIZE"
    /// Overrides the number of cases of every property.
    public static let casesKey = "NHGD_PROPERTY_CASES"
    /// Overrides the base seed from which case seeds are derived (explore other streams).
    public static let baseSeedKey = "NHGD_PROPERTY_BASE_SEED"
}

/// The base seed used when none is given: fixed, so CI runs are deterministic.
public let defaultPropertyBaseSeed: UInt64 = 0x4E48_4744_5F50_524F  // "NHGD_PRO"

/// Runs `body` on `cases` random cases and throws a shrunk, replayable ``PropertyFailure`` on
/// the first failure.
///
/// Case `i` of `N` gets its own seed, drawn from a generator seeded by `baseSeed` mixed with
/// the property name (so properties do not share streams), and a size budget `(i + 1) / N`,
/// so early cases are small and the last uses the full ranges.
///
/// On failure (a failed ``PropertyCase/expect(_:_:)`` or any error thrown by `body`) the same
/// seed is replayed with smaller budgets: halving while it still fails (down to 1/1024, then
/// 0), then four bisection steps between the smallest failing and the largest passing budget
/// found. The smallest failing budget is reported. Because ``PropertyCase/size(_:)`` is
/// monotone in the budget for a fixed seed, this shrinks every drawn size.
///
/// - Parameters:
///   - name: Shown in the failure report.
///   - cases: Number of cases, overridden by `NHGD_PROPERTY_CASES`.
///   - baseSeed: Overridden by `NHGD_PROPERTY_BASE_SEED`.
///   - environment: Where the `NHGD_PROPERTY_*` variables are read (the process environment by
///     default; tests of the harness pass a dictionary).
///   - function: The enclosing test, used in the replay command's `--filter`.
/// - Throws: ``PropertyFailure``; also ``PropertyConfigurationError`` for malformed variables.
public func forAll(
    _ name: String, cases: Int = 100, baseSeed: UInt64 = defaultPropertyBaseSeed,
    environment: [String: String] = ProcessInfo.processInfo.environment,
    function: String = #function,
    _ body: (inout PropertyCase) throws -> Void
) throws {
    let testName = function.hasSuffix("()") ? String(function.dropLast(2)) : function
    let plan = try PropertyPlan(name: name, cases: cases, baseSeed: baseSeed, environment: environment)
    for (index, (seed, budget)) in plan.cases.enumerated() {
        guard var failure = runCase(seed: seed, budget: budget, body) else { continue }
        let original = budget
        var attempts = 0
        if !plan.isReplay {
            (failure, attempts) = shrink(seed: seed, failingBudget: budget, failure: failure, body)
        }
        failure.property = name
        failure.caseIndex = plan.isReplay ? 0 : index
        failure.caseCount = plan.cases.count
        failure.originalSizeBudget = original
        failure.shrinkAttempts = attempts
        failure.testName = testName
        throw failure
    }
    // One line per passing property, so a log says which stream ran (and how to rerun it).
    let hex = "0x" + String(plan.baseSeed, radix: 16)
    print(plan.isReplay ? "property \"\(name)\": replayed case passed"
                        : "property \"\(name)\": \(plan.cases.count) cases passed (base seed \(hex))")
}

/// Thrown when an `NHGD_PROPERTY_*` variable cannot be parsed.
public struct PropertyConfigurationError: Error, CustomStringConvertible {
    public let variable: String
    public let value: String
    public var description: String { "cannot parse \(variable)=\(value)" }
}

/// The seeds and budgets one `forAll` run executes.
struct PropertyPlan {
    var cases: [(seed: UInt64, budget: Double)]
    var isReplay: Bool
    /// The base seed the case seeds came from (the replayed seed itself when replaying).
    var baseSeed: UInt64

    init(name: String, cases requested: Int, baseSeed: UInt64, environment: [String: String]) throws {
        if let text = environment[PropertyEnvironment.seedKey] {
            guard let seed = parseSeed(text) else {
                throw PropertyConfigurationError(variable: PropertyEnvironment.seedKey, value: text)
            }
            var budget = 1.0
            if let sizeText = environment[PropertyEnvironment.sizeKey] {
                guard let b = Double(sizeText), b >= 0, b <= 1 else {
                    throw PropertyConfigurationError(variable: PropertyEnvironment.sizeKey, value: sizeText)
                }
                budget = b
            }
            self.cases = [(seed, budget)]
            self.isReplay = true
            self.baseSeed = seed
            return
        }
        var count = requested
        if let text = environment[PropertyEnvironment.casesKey] {
            guard let n = Int(text), n >= 0 else {
                throw PropertyConfigurationError(variable: PropertyEnvironment.casesKey, value: text)
            }
            count = n
        }
        var base = baseSeed
        if let text = environment[PropertyEnvironment.baseSeedKey] {
            guard let b = parseSeed(text) else {
                throw PropertyConfigurationError(variable: PropertyEnvironment.baseSeedKey, value: text)
            }
            base = b
        }
        var master = Xoshiro256StarStar(seed: base ^ fnv1a(name))
        self.cases = (0..<count).map { i in (master.next(), Double(i + 1) / Double(count)) }
        self.isReplay = false
        self.baseSeed = base
    }
}

/// Runs one case; `nil` if it passed, otherwise the failure (errors other than
/// `PropertyFailure` are wrapped, with the case's notes).
func runCase(seed: UInt64, budget: Double, _ body: (inout PropertyCase) throws -> Void) -> PropertyFailure? {
    var c = PropertyCase(seed: seed, sizeBudget: budget)
    do {
        try body(&c)
        return nil
    } catch let failure as PropertyFailure {
        return failure
    } catch {
        return c.failure("threw \(type(of: error)): \(error)")
    }
}

/// Replays `seed` with smaller budgets; returns the failure at the smallest failing budget and
/// the number of budgets tried.
func shrink(
    seed: UInt64, failingBudget: Double, failure: PropertyFailure, _ body: (inout PropertyCase) throws -> Void
) -> (PropertyFailure, Int) {
    var best = failure, hi = failingBudget, lo = 0.0, attempts = 0
    var passedSomewhere = false
    // Halving.
    var candidate = hi / 2
    while true {
        attempts += 1
        if let f = runCase(seed: seed, budget: candidate, body) {
            best = f; hi = candidate
        } else {
            lo = candidate; passedSomewhere = true
            break
        }
        if candidate == 0 { break }
        candidate = candidate / 2 < 1.0 / 1024 ? 0 : candidate / 2
    }
    // Bisection between the largest passing and the smallest failing budget.
    if passedSomewhere {
        for _ in 0..<4 {
            let mid = (lo + hi) / 2
            attempts += 1
            if let f = runCase(seed: seed, budget: mid, body) {
                best = f; hi = mid
            } else {
                lo = mid
            }
        }
    }
    return (best, attempts)
}

/// Parses a decimal or `0x`-prefixed hexadecimal 64-bit seed.
func parseSeed(_ text: String) -> UInt64? {
    let t = text.trimmingCharacters(in: .whitespaces)
    if t.hasPrefix("0x") || t.hasPrefix("0X") { return UInt64(t.dropFirst(2), radix: 16) }
    return UInt64(t)
}

/// 64-bit FNV-1a of the UTF-8 bytes, to give each property name its own stream.
func fnv1a(_ text: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in text.utf8 {
        h ^= UInt64(byte)
        h = h &* 0x0000_0100_0000_01B3
    }
    return h
}
