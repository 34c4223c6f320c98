/// The rows of a length-p vector (parameter coordinates) that one rank of a ``Communicator``
/// holds: a block partition, ranks in order, the first `p mod R` ranks one row longer.
///
/// ```
/// rows of rank r = [r·⌊p/R⌋ + min(r, p mod R), …)   with ⌊p/R⌋ + (r < p mod R ? 1 : 0) rows
/// ```
///
/// A sharded operator holds its rows of every p-sized object (a sketch's buffer, a diagonal,
/// a right-hand side), so memory per rank is ∝ p/R; inner products over p become a local
/// product plus one ``Communicator/allreduceSum(_:)``. ``whole(_:)`` (the single-process
/// communicator, all rows) is the default of every sharded type.
///
/// Two shards are equal when they partition the same p over the same communicator (compared
/// by identity) for the same rank.
public struct RowShard: Sendable, Equatable {
    /// The communicator whose ranks share the rows.
    public let communicator: any Communicator
    /// p, the length of the whole vector.
    public let globalDimension: Int
    /// The rows this rank holds.
    public let rows: Range<Int>

    /// This rank's rows of a length-p vector split over `communicator`'s ranks.
    /// - Throws: `invalidArgument` when p < R (a rank would hold no rows) or p < 1.
    public init(dimension p: Int, communicator: any Communicator) throws(LinearAlgebraError) {
        let r = communicator.size
        guard p >= 1, p >= r else {
            throw .invalidArgument(operation: "RowShard",
                                   message: "cannot split \(p) rows over \(r) ranks: every rank needs at least one row")
        }
        self.communicator = communicator
        globalDimension = p
        rows = Self.rows(of: communicator.rank, dimension: p, ranks: r)
    }

    /// All p rows on the single-process communicator (none for p ≤ 0: the types that take a
    /// shard refuse that themselves, with their own message).
    public static func whole(_ p: Int) -> RowShard {
        RowShard(communicator: SingleProcessCommunicator.shared, globalDimension: p, rows: 0..<Swift.max(p, 0))
    }

    private init(communicator: any Communicator, globalDimension: Int, rows: Range<Int>) {
        self.communicator = communicator
        self.globalDimension = globalDimension
        self.rows = rows
    }

    /// The rows rank `r` of `ranks` holds.
    public static func rows(of r: Int, dimension p: Int, ranks: Int) -> Range<Int> {
        let base = p / ranks, extra = p % ranks
        let start = r * base + Swift.min(r, extra)
        return start..<(start + base + (r < extra ? 1 : 0))
    }

    /// The number of rows of every rank, in rank order (the counts of a gather or a
    /// reduce-scatter of one column).
    public var counts: [Int] {
        (0..<communicator.size).map { Self.rows(of: $0, dimension: globalDimension, ranks: communicator.size).count }
    }

    /// The number of rows this rank holds.
    public var localDimension: Int { rows.count }

    /// Whether other ranks hold rows (collectives are needed).
    public var isDistributed: Bool { communicator.size > 1 }

    public static func == (a: RowShard, b: RowShard) -> Bool {
        a.communicator === b.communicator && a.globalDimension == b.globalDimension && a.rows == b.rows
    }
}
