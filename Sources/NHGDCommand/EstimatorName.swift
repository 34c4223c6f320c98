/// The hypergradient estimators the tool can run (ALGORITHMS.md §6).
public enum EstimatorName: String, CaseIterable, Sendable {
    case nhgd, cg, neumann, amigo, exact, soba, qnbo, nbo, nhgdPCG = "nhgd-pcg", nystrom

    /// The names accepted on the command line, in this order.
    public static var choices: [String] { allCases.map(\.rawValue) }
}
