import Foundation

/// xoshiro256** (Blackman and Vigna, 2018): a fast, seedable, splittable random number
/// generator. Every randomised API in the library takes `using rng: inout some
/// RandomNumberGenerator`, and this is the generator tests and tools pass, so runs replay.
///
/// The 64-bit seed is expanded to the 256-bit state with SplitMix64, as the authors
/// recommend; ``split()`` derives an independent stream (for a worker, a test case).
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable, Equatable {
    private var s0, s1, s2, s3: UInt64

    /// A generator whose whole stream is determined by `seed`.
    public init(seed: UInt64) {
        var sm = seed
        func splitMix() -> UInt64 {
            sm &+= 0x9E37_79B9_7F4A_7C15
            var z = sm
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    @inlinable
    static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public mutating func next() -> UInt64 {
        let result = Self.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = Self.rotl(s3, 45)
        return result
    }

    /// The 256-bit state, for checkpoints (``CheckpointableState``).
    var words: [UInt64] {
        get { [s0, s1, s2, s3] }
        set { (s0, s1, s2, s3) = (newValue[0], newValue[1], newValue[2], newValue[3]) }
    }

    /// An independent generator seeded from this one's next output (advances `self`).
    public mutating func split() -> Xoshiro256StarStar {
        Xoshiro256StarStar(seed: next())
    }
}

extension RandomNumberGenerator {
    /// A standard normal deviate (Box–Muller on two uniforms in (0, 1]).
    public mutating func nextGaussian() -> Double {
        let u1 = Double(next() >> 11 | 1) * 0x1.0p-53
        let u2 = Double(next() >> 11) * 0x1.0p-53
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

extension Matrix {
    /// A `rows × columns` matrix of independent standard normal entries.
    public static func gaussian(rows: Int, columns: Int, using rng: inout some RandomNumberGenerator) -> Matrix {
        var m = Matrix(rows: rows, columns: columns)
        for i in 0..<m.storage.count { m.storage[i] = rng.nextGaussian() }
        return m
    }
}
