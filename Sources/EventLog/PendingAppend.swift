import Synchronization

/// An append that has been queued in the log's order but may not have committed yet.
///
/// ``EventStore/submit(to:expecting:events:)`` returns it synchronously, so a caller holding
/// an actor can queue several appends in a known order without suspending between them (the
/// writer commits them in that order), then await each ``result()``. The result is delivered
/// once, when the transaction that holds the events committed durably (or failed).
public final class PendingAppend: Sendable {
    private enum State {
        case waiting([CheckedContinuation<AppendResult, any Error>])
        case done(Result<AppendResult, EventLogError>)
    }

    private let state = Mutex(State.waiting([]))

    public init() {}

    /// An append that already has its answer (a read-only log, a refused batch).
    public static func finished(_ result: Result<AppendResult, EventLogError>) -> PendingAppend {
        let pending = PendingAppend()
        pending.complete(result)
        return pending
    }

    /// Waits for the commit. Any number of tasks may wait.
    /// - Throws: the ``EventLogError`` the append failed with.
    public func result() async throws -> AppendResult {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<AppendResult, EventLogError>? = state.withLock { s in
                switch s {
                case .done(let result):
                    return result
                case .waiting(var waiters):
                    waiters.append(continuation)
                    s = .waiting(waiters)
                    return nil
                }
            }
            if let ready { continuation.resume(with: ready.mapError { $0 as any Error }) }
        }
    }

    /// The answer, if it has arrived.
    public var completedResult: Result<AppendResult, EventLogError>? {
        state.withLock { s in
            if case .done(let result) = s { return result }
            return nil
        }
    }

    /// Delivers the answer; later calls are ignored. Called by the store that took the append
    /// (in its own module for a store other than LMDB), once the transaction holding its
    /// events committed durably or failed.
    public func complete(_ result: Result<AppendResult, EventLogError>) {
        let waiters: [CheckedContinuation<AppendResult, any Error>] = state.withLock { s in
            guard case .waiting(let waiters) = s else { return [] }
            s = .done(result)
            return waiters
        }
        for w in waiters { w.resume(with: result.mapError { $0 as any Error }) }
    }
}
