import Dispatch
import Synchronization

/// The bounded, fair queue in front of the password KDF threads (spec §10.4).
///
/// Why. A password hash holds a KDF thread for ~55 ms, and there are one or two such
/// threads. With one first-in-first-out queue, whoever sends the most requests decides
/// everyone's wait: during a burst of wrong passwords from one address, another instance's
/// owner waited 8.3 s for a correct login (the adversarial probe). So every requester (an
/// opaque ``RequesterKey``; the HTTP layer uses the client's address) gets a queue of its own,
/// and the threads serve the requesters in turn, one hash each.
///
/// Order. The requesters with waiting work form a line. A thread takes the first requester's
/// oldest job; that requester rejoins the line at its end only when the job is *finished*, so
/// behind every requester that arrived while its hash ran. With one thread, a newcomer
/// therefore waits for the hash that is running and one hash of each requester ahead of it,
/// and a requester that floods waits for its own jobs only: a burst from one address delays
/// another address's login by at most one hash. A requester that arrives later never
/// overtakes one that waits, so even a stream of new keys cannot starve anybody. When every
/// requester in the line has a hash running and a thread is idle, it takes the oldest job of
/// any requester rather than idle (work-conserving).
///
/// Bounds. At most ``Limits/perRequester`` jobs of one requester are waiting or running, and
/// at most ``Limits/waiting`` jobs wait in all; ``submit(for:_:)`` refuses beyond either at
/// once (the HTTP layer answers 429 with `Retry-After`). A burst costs its sender, memory is
/// bounded, and no request waits behind more than a bounded amount of work.
///
/// Threads: ``Limits/threads`` serial dispatch queues (`tallystick-kdf-N`), each draining
/// jobs while there are some and returning its thread when there are none; never the
/// cooperative pool, which must keep serving token checks.
final class HashingQueue: Sendable {
    struct Limits: Sendable {
        var threads: Int
        /// Jobs waiting for a thread, all requesters together.
        var waiting: Int
        /// Jobs of one requester, waiting or running.
        var perRequester: Int
    }

    typealias Job = @Sendable () -> Void

    private struct Requester {
        /// Waiting jobs, oldest first, each with its arrival number.
        var jobs: [(arrival: UInt64, job: Job)] = []
        var running = 0
    }

    private struct State {
        var requesters: [RequesterKey: Requester] = [:]
        /// Requesters with waiting jobs and none running, in the order they will be served.
        var line: [RequesterKey] = []
        var waiting = 0
        var arrivals: UInt64 = 0
        /// Threads with nothing to do.
        var idle: [Int]

        /// The next job to run, and whose it is, or `nil` when nothing waits.
        mutating func next() -> (RequesterKey, Job)? {
            var key: RequesterKey
            if !line.isEmpty {
                key = line.removeFirst()
            } else {
                // Every requester with waiting jobs has one running: take the oldest job.
                var oldest: (key: RequesterKey, arrival: UInt64)?
                for (candidate, requester) in requesters {
                    guard let first = requester.jobs.first else { continue }
                    if oldest == nil || first.arrival < oldest!.arrival {
                        oldest = (candidate, first.arrival)
                    }
                }
                guard let oldest else { return nil }
                key = oldest.key
            }
            let job = requesters[key]!.jobs.removeFirst().job
            requesters[key]!.running += 1
            waiting -= 1
            return (key, job)
        }

        /// `key`'s job finished: it rejoins the line behind everyone who arrived meanwhile.
        mutating func finished(_ key: RequesterKey) {
            requesters[key]!.running -= 1
            guard requesters[key]!.running == 0 else { return }
            if requesters[key]!.jobs.isEmpty {
                requesters[key] = nil
            } else {
                line.append(key)
            }
        }
    }

    let limits: Limits
    private let threads: [DispatchQueue]
    private let state: Mutex<State>

    init(_ limits: Limits) {
        var limits = limits
        limits.threads = max(1, limits.threads)
        limits.waiting = max(1, limits.waiting)
        limits.perRequester = max(1, limits.perRequester)
        self.limits = limits
        threads = (0..<limits.threads).map { DispatchQueue(label: "tallystick-kdf-\($0)") }
        state = Mutex(State(idle: Array((0..<limits.threads).reversed())))
    }

    /// Queues `job` for `requester`, to run on a KDF thread when its turn comes. Returns at
    /// once: `false` when the requester's share or the queue is full and `job` will never run.
    func submit(for requester: RequesterKey, _ job: @escaping Job) -> Bool {
        let start: Int?? = state.withLock { s in
            var entry = s.requesters[requester] ?? Requester()
            guard entry.jobs.count + entry.running < limits.perRequester,
                s.waiting < limits.waiting
            else { return .none }
            if entry.running == 0 && entry.jobs.isEmpty { s.line.append(requester) }
            entry.jobs.append((s.arrivals, job))
            s.arrivals += 1
            s.waiting += 1
            s.requesters[requester] = entry
            return .some(s.idle.popLast())
        }
        guard let start else { return false }
        if let thread = start { threads[thread].async { self.drain(thread) } }
        return true
    }

    /// Runs jobs on `thread` until none waits, then marks the thread idle (in the same
    /// critical section that found nothing, so no submission is missed).
    private func drain(_ thread: Int) {
        var done: RequesterKey?
        while true {
            let next: (RequesterKey, Job)? = state.withLock { s in
                if let done { s.finished(done) }
                guard let next = s.next() else {
                    s.idle.append(thread)
                    return nil
                }
                return next
            }
            guard let (key, job) = next else { return }
            job()
            done = key
        }
    }

    /// Jobs waiting for a thread now (for tests).
    var waitingCount: Int { state.withLock { $0.waiting } }
}
