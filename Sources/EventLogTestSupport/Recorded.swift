import Synchronization

/// Strings appended from any thread, in the order they were appended (what ran, in which
/// order).
public final class Recorded: Sendable {
    private let items = Mutex<[String]>([])

    public init() {}

    public func append(_ item: String) { items.withLock { $0.append(item) } }

    /// Everything appended so far.
    public var all: [String] { items.withLock { $0 } }
}

/// Yields until `condition` holds, and returns whether it did: `false` after a bound of a
/// million yields, so a broken expectation fails instead of hanging. Polls; never sleeps.
public func eventually(_ condition: () -> Bool) async -> Bool {
    for _ in 0..<1_000_000 {
        if condition() { return true }
        await Task.yield()
    }
    return false
}
