import Foundation
import Synchronization

/// Where the tool writes text: standard output and standard error in the product, a
/// ``CapturedText`` in tests. Writes must be safe from any thread.
public protocol TextSink: Sendable {
    func write(_ text: String)
}

/// Standard output or standard error, written unbuffered so progress lines appear at once.
public struct StandardStream: TextSink {
    private let handle: FileHandle

    public static let output = StandardStream(handle: .standardOutput)
    public static let error = StandardStream(handle: .standardError)

    private init(handle: FileHandle) { self.handle = handle }

    public func write(_ text: String) {
        handle.write(Data(text.utf8))
    }
}

/// Text collected in memory (for tests).
public final class CapturedText: TextSink {
    private let storage = Mutex("")

    public init() {}

    public func write(_ text: String) {
        storage.withLock { $0 += text }
    }

    /// Everything written so far.
    public var text: String { storage.withLock { $0 } }

    /// The written text split into lines (without the final empty line).
    public var lines: [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).dropLast(text.hasSuffix("\n") ? 1 : 0)
    }
}
