import Foundation
import Synchronization

/// Holds back the signals that ask a process to stop (SIGINT, SIGTERM, SIGHUP) while a short
/// critical section runs, then lets them take effect as if they had arrived just after it.
///
/// ``OutputDirectory/commit()`` runs inside ``deferring(_:_:)``: a Ctrl-C during a commit would
/// otherwise end the process between writing its temporary directory and removing it, leaving
/// the temporary behind (the SIGINT runs left some in 75 of 400 tries). With the signals
/// held, the commit finishes or rolls back first, and then the process ends by the signal with
/// its usual status (130 for SIGINT in a shell).
///
/// Blocking the signals with `sigprocmask` would not do: it is per thread, and the kernel
/// delivers a process-directed signal to any thread that does not block it (OpenBLAS's and
/// Dispatch's threads among them). So for the duration a handler is installed that only records
/// the first signal (an atomic store, async-signal-safe); on leaving, the previous dispositions
/// are restored and the recorded signal is sent again, so whatever the process had arranged
/// (the default, `SIG_IGN` under `nohup`, another handler) decides what happens, exactly as if
/// nothing had intervened. Sections may nest and run on several threads at once: the handler is
/// installed by the first to enter and removed by the last to leave.
public enum TerminationSignals {
    /// SIGINT, SIGTERM and SIGHUP.
    public static let standard: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// Runs `body` with `signals` held back (see the type's description).
    public static func deferring<T, E: Error>(_ signals: [Int32] = standard, _ body: () throws(E) -> T) throws(E) -> T {
        enter(signals)
        defer { leave(signals) }
        return try body()
    }

    private struct Held {
        var depth = 0
        var previous = sigaction()
    }

    /// Per signal: how many sections hold it and the disposition to restore.
    private static let state = Mutex<[Int32: Held]>([:])
    /// The signals received while held, one bit each (signal numbers are below 64 on Linux).
    private static let pending = Atomic<UInt64>(0)

    private static func enter(_ signals: [Int32]) {
        state.withLock { held in
            for signal in signals {
                var entry = held[signal] ?? Held()
                if entry.depth == 0 {
                    _ = pending.bitwiseAnd(~(UInt64(1) << UInt64(signal)), ordering: .sequentiallyConsistent)
                    var action = sigaction()
                    action.__sigaction_handler.sa_handler = { signal in
                        _ = TerminationSignals.pending.bitwiseOr(UInt64(1) << UInt64(signal), ordering: .sequentiallyConsistent)
                    }
                    sigemptyset(&action.sa_mask)
                    action.sa_flags = SA_RESTART
                    sigaction(signal, &action, &entry.previous)
                }
                entry.depth += 1
                held[signal] = entry
            }
        }
    }

    private static func leave(_ signals: [Int32]) {
        let arrived: [Int32] = state.withLock { held in
            var arrived: [Int32] = []
            for signal in signals {
                guard var entry = held[signal] else { continue }
                entry.depth -= 1
                if entry.depth == 0 {
                    sigaction(signal, &entry.previous, nil)
                    let bit = UInt64(1) << UInt64(signal)
                    if pending.bitwiseAnd(~bit, ordering: .sequentiallyConsistent).oldValue & bit != 0 { arrived.append(signal) }
                    held[signal] = nil
                } else {
                    held[signal] = entry
                }
            }
            return arrived
        }
        // To the process, not this thread (`raise`): a thread may block the signal (Dispatch's
        // workers block asynchronous signals), and the kernel delivers a process-directed
        // signal to one that does not.
        for signal in arrived { kill(getpid(), signal) }
    }
}
