import EventLog
import Synchronization

/// A clock the test sets by hand: time moves only when the test says so.
public final class ManualLogClock: LogClock, Sendable {
    private let now: Mutex<Int64>

    public init(microseconds: Int64 = 1_700_000_000_000_000) { now = Mutex(microseconds) }

    public func nowMicroseconds() -> Int64 { now.withLock { $0 } }

    /// Moves the clock to `microseconds` (backwards too, to test that the log never does).
    public func set(_ microseconds: Int64) { now.withLock { $0 = microseconds } }

    /// Moves the clock forward by `microseconds`.
    public func advance(by microseconds: Int64) { now.withLock { $0 += microseconds } }
}
