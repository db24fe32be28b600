#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where the log gets the time it records with each event (µs since the Unix epoch).
///
/// Injected so tests can control it. The log never records a time earlier than the previous
/// record's: recorded times are non-decreasing along the sequence, so "the state at time T" is
/// always a prefix of the log.
public protocol LogClock: Sendable {
    func nowMicroseconds() -> Int64
}

/// The system's real-time clock.
public struct SystemLogClock: LogClock {
    public init() {}
    public func nowMicroseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000
    }
}
