import EventLog
import Prometheus
import Synchronization

/// The Prometheus metrics the server exports at `GET /metrics`: requests by route, method
/// and status, request latency, tokens issued, connections closed by a deadline (by phase),
/// and the event log's group-commit counters (read from the log when scraped).
///
/// Uses its own registry rather than the process-wide `MetricsSystem`, so every test can
/// have a fresh one. Label sets are bounded: routes are the router's templates (or
/// `NotFound`), methods and statuses come from small fixed sets.
public final class MerchantMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let statistics: @Sendable () -> GroupCommitStatistics?
    private let tokensIssued: Counter
    private let timeouts: [ConnectionDeadlines.Phase: Counter]
    private let handles = Mutex<[RequestKey: (Counter, DurationHistogram)]>([:])

    /// The labels of a request's counter (a struct, so that finding it allocates nothing).
    private struct RequestKey: Hashable {
        var route: String
        var method: String
        var status: Int
    }

    static var requests: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "tallystick", subsystem: "http", metricName: "requests", unitName: "total",
            helpText: "HTTP requests answered.")
    }
    static var latency: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "tallystick", subsystem: "http", metricName: "request_duration",
            unitName: "seconds", helpText: "Time from request to response.")
    }
    static let latencyBuckets: [Duration] = [
        .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
    ]

    /// - Parameter statistics: the log's writer counters (`LMDBEventLog.writerStatistics`),
    ///   or `nil` for logs without them.
    public init(statistics: @escaping @Sendable () -> GroupCommitStatistics? = { nil }) {
        self.statistics = statistics
        tokensIssued = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "tallystick", metricName: "tokens_issued", unitName: "total",
                helpText: "Login tokens minted."))
        var timeouts = [ConnectionDeadlines.Phase: Counter]()
        for phase in [ConnectionDeadlines.Phase.header, .body, .idle] {
            timeouts[phase] = registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    namespace: "tallystick", subsystem: "http", metricName: "connections_timed_out",
                    unitName: "total",
                    helpText:
                        "Connections closed because a request's headers or body, or the next request, came too late."
                ),
                labels: [("phase", phase.rawValue)])
        }
        self.timeouts = timeouts
    }

    func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        let key = RequestKey(route: route, method: method, status: status)
        let (counter, histogram) = handles.withLock { all in
            if let found = all[key] { return found }
            let made = (
                registry.makeCounter(
                    descriptor: Self.requests,
                    labels: [("route", route), ("method", method), ("status", String(status))]),
                registry.makeDurationHistogram(
                    descriptor: Self.latency, labels: [("route", route), ("method", method)],
                    buckets: Self.latencyBuckets)
            )
            all[key] = made
            return made
        }
        counter.increment()
        histogram.recordNanoseconds(duration.nanoseconds)
    }

    func recordTokenIssued() { tokensIssued.increment() }

    /// A connection closed by its `phase` deadline (``ConnectionDeadlines``'s `onTimeout`).
    public func recordConnectionTimeout(_ phase: ConnectionDeadlines.Phase) {
        timeouts[phase]?.increment()
    }

    /// The exposition text.
    public func render() -> [UInt8] {
        if let s = statistics() {
            let gauges: [(String, String, String, Double)] = [
                ("commits", "total", "Write transactions committed.", Double(s.commits)),
                ("events_appended", "total", "Events written to the log.", Double(s.events)),
                (
                    "append_requests", "total", "Append requests answered by commits.",
                    Double(s.requests)
                ),
                (
                    "group_commit_largest_batch", "requests", "Most requests in one commit.",
                    Double(s.largestBatch)
                ),
                (
                    "group_commit_mean_batch", "requests", "Mean requests per commit.",
                    s.commits == 0 ? 0 : Double(s.requests) / Double(s.commits)
                ),
                (
                    "commit", "seconds", "Time spent staging and committing, flush included.",
                    Double(s.commitNanoseconds) / 1e9
                ),
            ]
            for (name, unit, help, value) in gauges {
                registry.makeGauge(
                    descriptor: MetricNameDescriptor(
                        namespace: "tallystick", subsystem: "log", metricName: name, unitName: unit,
                        helpText: help)
                ).set(to: value)
            }
        }
        var buffer = [UInt8]()
        registry.emit(into: &buffer)
        return buffer
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
