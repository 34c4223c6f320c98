extension NHGDTool {
    /// The tool as the `nhgd` executable runs it: standard streams and the production runner.
    public static func standard() -> NHGDTool {
        NHGDTool(runner: NumericalExperimentRunner())
    }
}
