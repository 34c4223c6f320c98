// Umbrella module: `import NaturalHypergradient` brings in every numerical layer.
@_exported import NHGDLinearAlgebra
@_exported import NHGDSketches
@_exported import NHGDBilevel
@_exported import NHGDExperiments
