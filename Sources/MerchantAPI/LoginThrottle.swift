import Synchronization

/// Slows down password guessing: failed Basic or password-bearer attempts are counted per
/// client address and per instance, and further attempts get 429 with `Retry-After` for a
/// while.
///
/// - Per address: after ``Policy/freeFailuresPerAddress`` failures within
///   ``Policy/window``, each further failure doubles the wait, up to
///   ``Policy/maximumAddressDelay``. This is the attacker's own penalty.
/// - Per instance (a distributed attack from many addresses): after
///   ``Policy/freeFailuresPerInstance`` failures within the window, new attempts wait too,
///   but never longer than ``Policy/maximumInstanceDelay`` (a few seconds), and an address
///   that logged in to that instance successfully within ``Policy/trustLifetime`` is not
///   held back at all. So the owner's correct password waits a few seconds at most behind
///   an attacker's failures, and not at all from a device that logged in before.
///
/// Memory is fixed at start: each table is a direct-mapped array of slots indexed by a
/// per-process-seeded hash of the key. A slot whose entry went quiet is reused; two live keys
/// in one slot share its counters (which can only make throttling stricter, never looser).
public final class LoginThrottle: Sendable {
    public struct Policy: Sendable {
        public var freeFailuresPerAddress = 5
        public var maximumAddressDelay: Int64 = 300_000_000
        public var freeFailuresPerInstance = 20
        public var maximumInstanceDelay: Int64 = 5_000_000
        /// Failures older than this are forgotten (µs).
        public var window: Int64 = 600_000_000
        /// How long a successful login exempts its address from the instance's throttle (µs).
        public var trustLifetime: Int64 = 3_600_000_000
        /// Slots per table.
        public var slots = 8_192

        public init() {}
    }

    struct Slot {
        var key = 0
        var failures = 0
        var lastFailure: Int64 = .min
        var blockedUntil: Int64 = .min
    }

    struct Tables {
        var addresses: [Slot]
        var instances: [Slot]
        /// (instance, address) keys that logged in, with when.
        var trusted: [(key: Int, at: Int64)]
    }

    public let policy: Policy
    private let tables: Mutex<Tables>
    /// When the last failure was recorded: while none is recent enough to have left a count or
    /// a block behind, ``wait(instance:address:now:)`` answers without hashing or locking.
    private let lastFailure = Atomic<Int64>(.min)

    public init(policy: Policy = Policy()) {
        self.policy = policy
        let count = max(policy.slots, 1)
        tables = Mutex(
            Tables(
                addresses: Array(repeating: Slot(), count: count),
                instances: Array(repeating: Slot(), count: count),
                trusted: Array(repeating: (key: 0, at: Int64.min), count: count)))
    }

    /// Slots held in all tables together: fixed at start.
    public var slotCount: Int {
        tables.withLock { $0.addresses.count + $0.instances.count + $0.trusted.count }
    }

    private static func key(_ parts: String...) -> Int {
        var hasher = Hasher()
        for part in parts { hasher.combine(part) }
        return hasher.finalize()
    }

    private func index(_ key: Int) -> Int { Int(UInt(bitPattern: key) % UInt(policy.slots)) }

    /// Whether an attempt on `instance` from `address` may go ahead at `now` (µs).
    /// `address` is evaluated only when some failure is recent enough to matter, so the
    /// common case (no attack) costs one atomic load.
    /// - Returns: `nil` to go ahead, or the seconds to wait.
    public func wait(instance: String, address: @autoclosure () -> String, now: Int64) -> Int? {
        let quietAfter = max(
            policy.window, policy.maximumAddressDelay, policy.maximumInstanceDelay)
        if Self.elapsed(since: lastFailure.load(ordering: .relaxed), now) > quietAfter {
            return nil
        }
        let address = address()
        let addressKey = Self.key("a", address)
        let instanceKey = Self.key("i", instance)
        let trustKey = Self.key("t", instance, address)
        return tables.withLock { t -> Int? in
            let a = t.addresses[index(addressKey)]
            if a.key == addressKey, a.blockedUntil > now { return seconds(a.blockedUntil - now) }
            let i = t.instances[index(instanceKey)]
            if i.key == instanceKey, i.blockedUntil > now {
                let trusted = t.trusted[index(trustKey)]
                if trusted.key == trustKey,
                    Self.elapsed(since: trusted.at, now) < policy.trustLifetime
                {
                    return nil
                }
                return seconds(i.blockedUntil - now)
            }
            return nil
        }
    }

    /// Counts a failed attempt.
    public func recordFailure(instance: String, address: String, now: Int64) {
        var seen = lastFailure.load(ordering: .relaxed)
        while seen < now {
            let (exchanged, current) = lastFailure.compareExchange(
                expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = current
        }
        let addressKey = Self.key("a", address)
        let instanceKey = Self.key("i", instance)
        tables.withLock { t in
            Self.fail(
                &t.addresses[index(addressKey)], key: addressKey, now: now,
                free: policy.freeFailuresPerAddress, cap: policy.maximumAddressDelay,
                window: policy.window)
            Self.fail(
                &t.instances[index(instanceKey)], key: instanceKey, now: now,
                free: policy.freeFailuresPerInstance, cap: policy.maximumInstanceDelay,
                window: policy.window)
        }
    }

    /// Records a successful password login: the address is trusted for the instance, and its
    /// own failure count is cleared.
    public func recordSuccess(instance: String, address: String, now: Int64) {
        let addressKey = Self.key("a", address)
        let trustKey = Self.key("t", instance, address)
        tables.withLock { t in
            t.trusted[index(trustKey)] = (trustKey, now)
            let i = index(addressKey)
            if t.addresses[i].key == addressKey { t.addresses[i] = Slot() }
        }
    }

    private static func fail(
        _ slot: inout Slot, key: Int, now: Int64, free: Int, cap: Int64, window: Int64
    ) {
        let quiet = elapsed(since: slot.lastFailure, now) > window && slot.blockedUntil <= now
        if slot.key != key && quiet { slot = Slot(key: key) }
        if elapsed(since: slot.lastFailure, now) > window { slot.failures = 0 }
        slot.key = key
        slot.failures += 1
        slot.lastFailure = now
        guard slot.failures > free else { return }
        let doublings = min(slot.failures - free - 1, 30)
        let delay = min(Int64(1_000_000) << Int64(doublings), cap)
        slot.blockedUntil = max(slot.blockedUntil, now + delay)
    }

    /// `now - then`, saturating (the empty slot's `Int64.min` means "long ago").
    private static func elapsed(since then: Int64, _ now: Int64) -> Int64 {
        let (difference, overflow) = now.subtractingReportingOverflow(then)
        return overflow ? .max : difference
    }

    private func seconds(_ micros: Int64) -> Int { Int((micros + 999_999) / 1_000_000) }
}
