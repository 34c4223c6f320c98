/// The runner `nhgd` uses until the numerics are connected: it refuses to run.
/// Replace it in `NHGDTool.standard` with the runner that builds problems and estimators.
public struct UnwiredExperimentRunner: ExperimentRunner {
    public struct NotWired: Error, CustomStringConvertible {
        public var description: String { "the numerical back end is not connected to the command line yet" }
    }

    public init() {}

    public func run(_ configuration: RunConfiguration, progress: (TraceRecord) -> Void) throws -> RunOutcome {
        throw NotWired()
    }
}

extension NHGDTool {
    /// The tool as the `nhgd` executable runs it: standard streams and the production runner.
    public static func standard() -> NHGDTool {
        NHGDTool(runner: UnwiredExperimentRunner())
    }
}
