import Foundation
import NHGDReporting
import Synchronization

/// Where the tool writes text: standard output and standard error in the product, a
/// ``CapturedText`` in tests. Writes must be safe from any thread.
///
/// A sink that cannot write (a full disk, a closed descriptor, a pipe whose reader has gone)
/// must not crash or throw at the writer: it drops the text, remembers why in ``failure`` and
/// drops everything written after it, so the tool can finish what it was doing (files it
/// commits do not depend on its streams) and then exit with a status that says output was lost.
public protocol TextSink: Sendable {
    func write(_ text: String)
    /// Why the sink stopped writing; `nil` while every write has succeeded.
    var failure: TextSinkFailure? { get }
}

extension TextSink {
    /// A sink that cannot fail (in memory) never reports a failure.
    public var failure: TextSinkFailure? { nil }
}

/// The first write error of a ``TextSink``: which stream, and the `errno` of the failed write.
public struct TextSinkFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// What the stream is called in messages: `standard output`.
    public var stream: String
    /// The POSIX error of the write that failed (`ENOSPC`, `EPIPE`, `EBADF`, …).
    public var code: Int32

    public init(stream: String, code: Int32) {
        self.stream = stream
        self.code = code
    }

    /// `cannot write standard output: No space left on device`.
    public var description: String { "cannot write \(stream): \(String(cString: strerror(code)))" }
}

/// Standard output or standard error, written unbuffered with `write(2)` so progress lines
/// appear at once.
///
/// Foundation's `FileHandle.write(_:)` ends in `try!` and traps on any error (the process died
/// with SIGILL on `> /dev/full`, `>&-`, or a closed pipe with SIGPIPE ignored); this writes
/// the bytes itself, retrying interrupted (`EINTR`) and partial writes and waiting on a
/// non-blocking descriptor (`EAGAIN`), and on any other error records a ``TextSinkFailure``
/// and writes nothing more. With SIGPIPE at its default disposition a write to a pipe without
/// a reader still ends the process by that signal, as for any Unix filter.
public final class StandardStream: TextSink {
    private let descriptor: Int32
    private let name: String
    /// The first failure; guarded with the writes so that lines from several threads never
    /// interleave and nothing is written after a failure.
    private let state = Mutex<TextSinkFailure?>(nil)

    public static let output = StandardStream(descriptor: STDOUT_FILENO, name: "standard output")
    public static let error = StandardStream(descriptor: STDERR_FILENO, name: "standard error")

    /// A stream on `descriptor` (which it neither owns nor closes), called `name` in messages.
    public init(descriptor: Int32, name: String) {
        self.descriptor = descriptor
        self.name = name
    }

    public func write(_ text: String) {
        state.withLock { failure in
            guard failure == nil else { return }
            var text = text
            text.withUTF8 { bytes in
                if let code = FileSystemCalls.writeAll(bytes, to: descriptor) {
                    failure = TextSinkFailure(stream: name, code: code)
                }
            }
        }
    }

    public var failure: TextSinkFailure? { state.withLock { $0 } }
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
