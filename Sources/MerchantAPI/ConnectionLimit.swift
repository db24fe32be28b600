import HummingbirdCore
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How many connections one listener holds at once (spec §10.5), as Hummingbird's
/// `availableConnectionsDelegate`: at the limit the listener stops accepting, and starts
/// again when a connection closes.
///
/// Stopping is Hummingbird's `AvailableConnectionsChannelHandler` declining the server
/// channel's `read`: NIO then stops watching the listening socket, so new connections wait
/// in the kernel's backlog and cost no CPU. Reaching the process's file limit instead is what
/// made the server spin: `accept4` fails with `EMFILE`, the connection stays in the backlog,
/// the socket stays readable, and the event loop calls `accept4` again at once (98–99 % of a
/// core measured, ~5,000 failed `accept4` a second under `strace`; NIO's accept backoff did
/// not stop it). So the limit must stay below the file limit:
/// ``maximum(configured:fileLimit:reserved:)``.
///
/// The server channel may accept a few connections per read (NIO's `maxMessagesPerRead`,
/// 4 by default) before this is asked again, so up to 3 more than `maximum` can be open; the
/// reserve covers them.
public struct ConnectionLimit: AvailableConnectionsDelegate {
    /// Descriptors kept for everything but connections: standard streams, the log's files
    /// and writer lock, the event loops' epoll, event and timer descriptors, listening
    /// sockets, `tan.key`, 2FA helpers' pipes, and the few accepts beyond the limit.
    public static let reservedDescriptors = 64
    /// Connections the internal listener holds at once (a scraper and a reverse proxy's
    /// keep-alive pool); its descriptors are reserved too when it is on.
    public static let internalMaximum = 64

    public let maximum: Int
    private let logger: Logger
    private var open = 0
    /// Set when the limit was reached; cleared when half the connections have closed, so a
    /// listener that stays near its limit logs once, not once per connection.
    private var warned = false

    public init(maximum: Int, logger: Logger) {
        self.maximum = maximum
        self.logger = logger
    }

    public mutating func connectionOpened() {
        open += 1
        if open >= maximum, !warned {
            warned = true
            logger.warning(
                "at the connection limit; new connections wait until one closes",
                metadata: ["max_connections": "\(maximum)"])
        }
    }

    public mutating func connectionClosed() {
        open -= 1
        if warned, open <= maximum / 2 { warned = false }
    }

    public func isAcceptingNewConnections() -> Bool { open < maximum }

    /// The most connections a listener may hold: `configured`, lowered to what the file
    /// limit leaves after `reserved` descriptors. Below 1 means there is no room at all.
    public static func maximum(configured: Int, fileLimit: Int, reserved: Int) -> Int {
        min(configured, fileLimit - reserved)
    }

    /// The process's soft limit on open files (`ulimit -n`, `RLIMIT_NOFILE`); `Int.max` when
    /// unlimited or unknown.
    public static func fileLimit() -> Int {
        var limit = rlimit()
        // RLIM_INFINITY is all ones, larger than any Int: both read as "no limit".
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { return Int.max }
        return limit.rlim_cur > UInt64(Int.max) ? Int.max : Int(limit.rlim_cur)
    }
}

#if canImport(Glibc)
    private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
#else
    private let RLIMIT_NOFILE_VALUE = RLIMIT_NOFILE
#endif
