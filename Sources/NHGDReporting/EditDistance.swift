/// The Levenshtein distance between `a` and `b`: the fewest single-character insertions,
/// deletions and substitutions that turn one into the other (two-row dynamic programme).
///
/// - Complexity: O(|a|·|b|) time, O(|b|) memory.
public func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
            current[j] = min(substitution, previous[j] + 1, current[j - 1] + 1)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

/// The candidate closest to `word` by ``editDistance(_:_:)``, if it is within
/// `max(2, word.count / 3)` edits (close enough to be a plausible typo); ties go to the
/// earlier candidate. A candidate that starts with `word` (an abbreviation) also qualifies.
public func closestMatch(to word: String, among candidates: [String]) -> String? {
    let limit = max(2, word.count / 3)
    var best: (candidate: String, distance: Int)?
    for candidate in candidates {
        let distance = editDistance(word, candidate)
        if distance <= limit, distance < (best?.distance ?? .max) {
            best = (candidate, distance)
        }
    }
    if let best { return best.candidate }
    if word.count >= 3 { return candidates.first { $0.hasPrefix(word) } }
    return nil
}
