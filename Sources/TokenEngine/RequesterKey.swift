/// Who asked for a password hash, as an opaque key: requests with equal keys share one fair
/// share of the hashing queue (``EngineConfiguration/kdfQueueLimitPerRequester``), and the
/// queue serves the keys in turn.
///
/// The engine never interprets it. The HTTP layer makes it from the client's address (IPv6:
/// its /64), so one address's burst of password attempts waits behind its own share, not in
/// front of everyone else's logins.
public struct RequesterKey: Hashable, Sendable {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Work the process asks for itself, with no client behind it: start-up (the `admin`
    /// bootstrap), the offline tools, tests that name no requester.
    public static let local = RequesterKey(high: .max, low: .max)
}
