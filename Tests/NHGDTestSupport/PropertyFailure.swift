/// A failed property case: everything needed to understand and replay it.
///
/// Thrown by ``PropertyCase/expect(_:_:)`` (with the case's seed, budget and notes so far) and
/// rethrown by ``forAll(_:cases:baseSeed:environment:function:_:)`` after shrinking, with the
/// property name, the case index and the replay command filled in.
public struct PropertyFailure: Error, CustomStringConvertible {
    /// The property's name as given to `forAll` (empty when thrown outside one).
    public var property: String
    /// The seed of the failing case.
    public var seed: UInt64
    /// The (shrunk) size budget of the failing case.
    public var sizeBudget: Double
    /// The size budget at which the failure was first seen, before shrinking.
    public var originalSizeBudget: Double
    /// Index of the failing case among `caseCount` (0-based).
    public var caseIndex: Int
    /// Number of cases the run was to execute.
    public var caseCount: Int
    /// How many smaller budgets were tried while shrinking.
    public var shrinkAttempts: Int
    /// The notes recorded by the failing (shrunk) case.
    public var notes: [String]
    /// What went wrong: the failed expectation's message, or the description of the error thrown.
    public var message: String
    /// The test name to filter on when replaying (the enclosing function, without `()`).
    public var testName: String

    public init(
        property: String = "", seed: UInt64, sizeBudget: Double, originalSizeBudget: Double? = nil,
        caseIndex: Int = 0, caseCount: Int = 1, shrinkAttempts: Int = 0, notes: [String], message: String,
        testName: String = ""
    ) {
        self.property = property
        self.seed = seed
        self.sizeBudget = sizeBudget
        self.originalSizeBudget = originalSizeBudget ?? sizeBudget
        self.caseIndex = caseIndex
        self.caseCount = caseCount
        self.shrinkAttempts = shrinkAttempts
        self.notes = notes
        self.message = message
        self.testName = testName
    }

    /// The seed as `0x` followed by 16 hex digits, as `NHGD_PROPERTY_SEED` accepts it.
    public var seedHex: String { hexSeed(seed) }

    /// The shell command that replays exactly this case.
    public var replayCommand: String {
        let filter = testName.isEmpty ? "" : " --filter \(testName)"
        return "\(PropertyEnvironment.seedKey)=\(seedHex) \(PropertyEnvironment.sizeKey)=\(sizeBudget) swift test\(filter)"
    }

    public var description: String {
        var lines = ["Property \"\(property)\" failed on case \(caseIndex + 1) of \(caseCount)."]
        lines.append("  seed: \(seedHex)")
        if shrinkAttempts > 0 {
            lines.append("  size budget: \(sizeBudget) (shrunk from \(originalSizeBudget) in \(shrinkAttempts) attempts)")
        } else {
            lines.append("  size budget: \(sizeBudget)")
        }
        for note in notes { lines.append("  note: \(note)") }
        lines.append("  failure: \(message)")
        lines.append("  replay: \(replayCommand)")
        return lines.joined(separator: "\n")
    }
}

/// `0x` and 16 hex digits.
func hexSeed(_ seed: UInt64) -> String {
    let digits = String(seed, radix: 16)
    return "0x" + String(repeating: "0", count: 16 - digits.count) + digits
}

extension PropertyCase {
    /// Fails the case with `message` unless `condition` holds.
    /// - Throws: ``PropertyFailure`` carrying this case's seed, size budget and notes.
    public func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw failure(message()) }
    }

    /// Fails the case unless `body` throws an error accepted by `matches`; a wrong error or no
    /// error at all fails with a message naming what happened.
    public func expectThrows<T>(
        _ what: String, matching matches: (any Error) -> Bool, _ body: () throws -> T
    ) throws {
        do {
            _ = try body()
        } catch {
            if matches(error) { return }
            throw failure("\(what): threw the wrong error: \(error)")
        }
        throw failure("\(what): expected an error, none was thrown")
    }

    /// A ``PropertyFailure`` for this case with `message`.
    public func failure(_ message: String) -> PropertyFailure {
        PropertyFailure(seed: seed, sizeBudget: sizeBudget, notes: notes, message: message)
    }
}
