/// A run stopped by SIGINT or SIGTERM (``NHGDReporting/StopSignals``) after an outer
/// iteration: the runner throws it once that iteration and its checkpoint are done. The tool
/// prints one line saying how to resume and exits with 128 + the signal (130, 143), writing no
/// `--output`.
public struct RunInterruption: Error, Equatable {
    public var signal: Int32
    /// Outer iterations completed (and, with a checkpoint, saved).
    public var completedIterations: Int
    public var totalIterations: Int
    /// Where the state was saved, if `--checkpoint` was given.
    public var checkpointFile: String?

    public init(signal: Int32, completedIterations: Int, totalIterations: Int, checkpointFile: String?) {
        self.signal = signal
        self.completedIterations = completedIterations
        self.totalIterations = totalIterations
        self.checkpointFile = checkpointFile
    }
}
