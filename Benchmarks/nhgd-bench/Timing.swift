import Foundation

/// Wall-clock seconds of `body`.
func time(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
}

/// Median of `repetitions` timings of `body`, after one untimed warm-up run.
func medianTime(repetitions: Int, _ body: () throws -> Void) rethrows -> Double {
    try body()
    var samples = [Double]()
    for _ in 0..<max(1, repetitions) { samples.append(try time(body)) }
    return median(samples)
}

func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    if s.isEmpty { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Keeps a value alive and opaque to the optimiser.
@inline(never)
func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}
