import Foundation
import Synchronization

/// Turns SIGINT and SIGTERM into a request to stop at the next safe point, for the runs that
/// `nhgd` can end cleanly: the current outer iteration finishes, the checkpoint is written (when
/// one was asked for), one line says how to resume, and the process exits with 130 or 143, the
/// statuses a shell reports for those signals. Nothing partial is written to `--output`.
///
/// While ``catching(_:)`` runs, a handler records the first signal (an atomic store,
/// async-signal-safe); the run polls ``requested`` between iterations. A second signal restores
/// the default disposition and re-raises itself, so a second Ctrl-C ends the process at once.
/// ``TerminationSignals/deferring(_:_:)`` (an atomic file or output commit) nests inside: it
/// holds the signal during the commit and then hands it back to this handler.
public enum StopSignals {
    /// SIGINT and SIGTERM.
    public static let signals: [Int32] = [SIGINT, SIGTERM]

    /// The signal recorded (0: none).
    private static let received = Atomic<Int32>(0)
    private static let previous = Mutex<[Int32: sigaction]>([:])

    /// The first stop signal received since ``catching(_:)`` began, if any.
    public static var requested: Int32? {
        let s = received.load(ordering: .sequentiallyConsistent)
        return s == 0 ? nil : s
    }

    /// Records `signal` as if it had been received (for tests and for callers that stop a run
    /// for their own reasons).
    public static func request(_ signal: Int32) {
        _ = received.compareExchange(expected: 0, desired: signal, ordering: .sequentiallyConsistent)
    }

    /// Runs `body` with the handler installed, then restores the previous dispositions and
    /// forgets any recorded signal. A signal the process was started ignoring (`nohup`, a
    /// background job of a non-interactive shell) stays ignored. The signals are unblocked on
    /// the calling thread for the duration (a parent that spawned the process from a thread
    /// that blocks them, as Dispatch's workers do, would otherwise leave them pending forever).
    public static func catching<T>(_ body: () throws -> T) rethrows -> T {
        received.store(0, ordering: .sequentiallyConsistent)
        var unblock = sigset_t(), oldMask = sigset_t()
        sigemptyset(&unblock)
        for signal in signals { sigaddset(&unblock, signal) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, &oldMask)
        defer { pthread_sigmask(SIG_SETMASK, &oldMask, nil) }
        previous.withLock { saved in
            for signal in signals {
                var current = sigaction()
                sigaction(signal, nil, &current)
                if unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == 1 { continue }   // SIG_IGN
                var action = sigaction()
                action.__sigaction_handler.sa_handler = { signal in
                    let (exchanged, _) = StopSignals.received.compareExchange(expected: 0, desired: signal,
                                                                              ordering: .sequentiallyConsistent)
                    if !exchanged {   // the second: let it do what it does by default
                        Foundation.signal(signal, SIG_DFL)
                        raise(signal)
                    }
                }
                sigemptyset(&action.sa_mask)
                action.sa_flags = SA_RESTART
                var old = sigaction()
                sigaction(signal, &action, &old)
                saved[signal] = old
            }
        }
        defer {
            previous.withLock { saved in
                for (signal, old) in saved {
                    var action = old
                    sigaction(signal, &action, nil)
                }
                saved = [:]
            }
            received.store(0, ordering: .sequentiallyConsistent)
        }
        return try body()
    }

    /// The exit status a shell gives a process ended by `signal`: 128 + its number (130 for
    /// SIGINT, 143 for SIGTERM).
    public static func exitStatus(for signal: Int32) -> Int32 { 128 + signal }

    /// `SIGINT`, `SIGTERM`, or the number.
    public static func name(of signal: Int32) -> String {
        switch signal {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        default: return "signal \(signal)"
        }
    }
}
