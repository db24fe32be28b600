import Synchronization

/// Tells followers that new records committed. Each follower gets a stream that holds at most
/// one pending notice, so a slow follower never makes the writer wait or buffer.
public final class FollowerHub: Sendable {
    private let subscribers = Mutex<
        (next: Int, all: [Int: AsyncStream<Void>.Continuation], closed: Bool)
    >((0, [:], false))

    public init() {}

    /// A stream of notices (the first one at once) and a token for ``unsubscribe(_:)``.
    public func subscribe() -> (AsyncStream<Void>, Int) {
        let (stream, continuation) = AsyncStream<Void>.makeStream(
            bufferingPolicy: .bufferingNewest(1))
        continuation.yield()
        let token = subscribers.withLock { s -> Int? in
            if s.closed { return nil }
            s.next += 1
            s.all[s.next] = continuation
            return s.next
        }
        guard let token else {
            continuation.finish()
            return (stream, -1)
        }
        return (stream, token)
    }

    public func unsubscribe(_ token: Int) {
        subscribers.withLock { $0.all.removeValue(forKey: token) }?.finish()
    }

    /// Called after each commit.
    public func notify() {
        let all = subscribers.withLock { Array($0.all.values) }
        for c in all { c.yield() }
    }

    /// Ends every follower's stream; later subscriptions end at once.
    public func close() {
        let all = subscribers.withLock { s in
            s.closed = true
            defer { s.all = [:] }
            return Array(s.all.values)
        }
        for c in all { c.finish() }
    }

    /// The follow stream of ``EventStore/follow(from:)``, built on `read`.
    public func followStream(
        from sequence: UInt64, read: @escaping @Sendable (UInt64) throws -> [EventRecord]
    ) -> AsyncThrowingStream<EventRecord, any Error> {
        followStream(from: sequence, fetch: { try read($0) })
    }

    /// The follow stream of ``EventStore/follow(from:)`` for a store whose reads suspend (a
    /// database server). `fetch` returns the committed records from a sequence on, in order,
    /// without gaps; after each notice the follower fetches from the sequence after the last
    /// one it delivered until a fetch comes back empty, so a notice that arrives while it
    /// reads is never lost and no record is delivered twice.
    public func followStream(
        from sequence: UInt64,
        fetch read: @escaping @Sendable (UInt64) async throws -> [EventRecord]
    ) -> AsyncThrowingStream<EventRecord, any Error> {
        let (notices, token) = subscribe()
        return AsyncThrowingStream { continuation in
            let task = Task {
                var next = max(sequence, 1)
                do {
                    for await _ in notices {
                        while true {
                            try Task.checkCancellation()
                            let batch = try await read(next)
                            guard let last = batch.last else { break }
                            for record in batch { continuation.yield(record) }
                            next = last.sequence + 1
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { [self] _ in
                task.cancel()
                self.unsubscribe(token)
            }
        }
    }
}
