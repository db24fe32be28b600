import Synchronization

/// Slows down password guessing (spec §10.4): failed password attempts (Basic, or a
/// `secret-token:` that is not a login token) are counted per client and per instance, and
/// further attempts get 429 with `Retry-After` for a while.
///
/// Why this shape. A password check costs ~55 ms of a KDF thread. A throttle that counts a
/// failure only once the hash has run lets through every attempt that arrives during those
/// 55 ms: the adversarial probe had 100 parallel wrong passwords from one address all checked.
/// So an attempt is **admitted before its hash runs** (``admit(instance:client:now:)``) and
/// counts as a failure from that moment, *in flight*, until it is finished
/// (``finish(_:_:now:)``): a failure keeps it, a success takes it back and clears its client's
/// count, and an attempt that never reached a check (an unknown instance) just takes it back.
/// The budget is then the same whether guesses come one after another or all at once, and it
/// is decided before any hash, so a throttled answer never depends on the password.
///
/// What is counted, and by which key:
/// - A **client** is one address asking one instance: the address's ``IPAddress/group`` (IPv4
///   itself, IPv6 its /64) with the instance id. After ``Policy/freeFailuresPerClient``
///   failures within ``Policy/window`` (in flight included), each further one doubles the
///   client's wait, up to ``Policy/maximumClientDelay``. This is the attacker's own penalty. A
///   success clears only its own client: a tenant that logs in to its own instance between
///   guesses against another keeps its count there (finding 2 of the probe).
/// - An **instance** counts the failures of every client, in flight included (an attack from
///   many addresses). After ``Policy/freeFailuresPerInstance`` new attempts wait too, never
///   longer than ``Policy/maximumInstanceDelay`` (a few seconds), and a client that logged in
///   within ``Policy/trustLifetime`` is not held back by it at all: the owner's correct
///   password waits a few seconds at most behind an attack, and not at all from a device that
///   logged in before.
///
/// Login tokens. A `secret-token:` of the token shape is only looked up, never hashed (spec
/// §10.10), so it needs no admission: ``wait(instance:client:now:)`` says whether its client or
/// instance is held back (a token that is valid now passes anyway, see
/// `TokenEngine.presentsLiveLoginToken`), and ``recordFailure(instance:client:now:)`` counts
/// an unknown, expired or revoked one. That check is the hot path: while no failure is recent
/// enough to have left a count or a block behind, it costs one atomic load and never formats
/// the client's address. Password attempts always take the lock: they are about to spend a
/// KDF run or a credential-cache lookup, next to which a lock and three hashes are nothing.
///
/// Memory is fixed at start: each table is an array of slots in buckets of ``ways``, and a
/// key (hashed with a per-process seed) may use any slot of its bucket. A key keeps its own
/// slot while the slot is live (a recent failure, an attempt in flight or a block); a slot
/// that went quiet is taken over by the next key that needs one. Two keys therefore share
/// counts only when a bucket has no quiet slot left, which takes ``ways`` live keys landing in
/// one bucket: a tenant's own login is not held back because its key happened to meet an
/// attacker's (with one slot per key it was, now and then, in the security probe). When a
/// bucket is full, the keys that found no slot of their own all use its first slot together,
/// marked shared: their counts and blocks add up (stricter, never looser), and a success
/// there clears nothing, since the count is not its own alone.
public final class LoginThrottle: Sendable {
    public struct Policy: Sendable {
        public var freeFailuresPerClient = 5
        /// µs.
        public var maximumClientDelay: Int64 = 300_000_000
        public var freeFailuresPerInstance = 20
        /// µs.
        public var maximumInstanceDelay: Int64 = 5_000_000
        /// Failures older than this are forgotten (µs).
        public var window: Int64 = 600_000_000
        /// How long a successful login exempts its client from the instance's throttle (µs).
        public var trustLifetime: Int64 = 3_600_000_000
        /// Slots per table, rounded down to whole buckets of ``LoginThrottle/ways``.
        public var slots = 8_192

        public init() {}
    }

    /// Whether a password attempt may go ahead.
    public enum Admission: Sendable {
        /// Go ahead, and ``finish(_:_:now:)`` the attempt exactly once.
        case admitted(Attempt)
        /// Held back: answer 429 with `Retry-After` of this many seconds.
        case wait(seconds: Int)
    }

    /// An admitted attempt, counted as a failure in flight until it is finished.
    public struct Attempt: Sendable {
        fileprivate let keys: Keys
        /// The slots it was counted in at admission: live until it is finished (an attempt
        /// in flight keeps a slot from being taken over).
        fileprivate let clientSlot: Int
        fileprivate let instanceSlot: Int
    }

    /// How an attempt ended.
    public enum Outcome: Sendable {
        /// The password was right.
        case succeeded
        /// The password was wrong, or the attempt was refused without a check for a reason
        /// the client could use to learn something (a full hashing queue).
        case failed
        /// It never reached a password check (an unknown or deleted instance, an internal
        /// error): not counted.
        case abandoned
    }

    fileprivate struct Key {
        let hash: Int
        /// The first slot of the key's bucket.
        let bucket: Int
    }

    /// The keys of one attempt: its client, its instance, and its client's trust.
    fileprivate struct Keys {
        let client: Key
        let instance: Key
        let trust: Key
    }

    struct Slot {
        /// The key that took the slot while it was quiet.
        var key = 0
        /// Whether another key used it since.
        var shared = false
        var failures = 0
        var inFlight = 0
        var lastFailure: Int64 = .min
        var blockedUntil: Int64 = .min

        init(key: Int = 0) { self.key = key }
    }

    struct Tables {
        var clients: [Slot]
        var instances: [Slot]
        /// Clients (address group and instance) that logged in, with when.
        var trusted: [(key: Int, at: Int64)]
    }

    /// Slots per bucket: how many live keys one bucket holds before keys share a slot.
    public static let ways = 8

    public let policy: Policy
    /// Slots per bucket in this throttle (fewer than ``ways`` only in a table that small).
    private let ways: Int
    private let buckets: Int
    private let tables: Mutex<Tables>
    /// When a failure was last counted or a block last set: while none is recent enough to
    /// have left a count or a block behind, ``wait(instance:client:now:)`` answers at once.
    private let lastEvent = Atomic<Int64>(.min)

    public init(policy: Policy = Policy()) {
        self.policy = policy
        ways = min(Self.ways, max(policy.slots, 1))
        buckets = max(policy.slots, 1) / ways
        let count = buckets * ways
        tables = Mutex(
            Tables(
                clients: Array(repeating: Slot(), count: count),
                instances: Array(repeating: Slot(), count: count),
                trusted: Array(repeating: (key: 0, at: Int64.min), count: count)))
    }

    /// Slots held in all tables together: fixed at start.
    public var slotCount: Int {
        tables.withLock { $0.clients.count + $0.instances.count + $0.trusted.count }
    }

    // MARK: Password attempts

    /// Admits a password attempt on `instance` from `client` at `now` (µs), counting it as a
    /// failure in flight, or says how long to wait. Decided before the password is looked at.
    public func admit(instance: String, client: IPAddress, now: Int64) -> Admission {
        let keys = keys(instance: instance, client: client)
        let (admission, blocked) = tables.withLock { t -> (Admission, Bool) in
            let attempt = claim(keys, &t, now)
            if let wait = held(
                t, client: attempt.clientSlot, instance: attempt.instanceSlot, trust: keys.trust,
                now)
            {
                return (.wait(seconds: wait), false)
            }
            var blocked = false
            each(attempt, &t) { slot, _, limit in
                forget(&slot, now)
                slot.inFlight += 1
                block(&slot, now: now, limit)
                blocked = blocked || slot.blockedUntil > now
            }
            return (.admitted(attempt), blocked)
        }
        if blocked { note(now) }
        return admission
    }

    /// Ends an admitted attempt at `now` (µs).
    public func finish(_ attempt: Attempt, _ outcome: Outcome, now: Int64) {
        tables.withLock { t in
            each(attempt, &t) { slot, key, limit in
                slot.inFlight = max(slot.inFlight - 1, 0)
                switch outcome {
                case .failed:
                    fail(&slot, now: now, limit)
                case .succeeded where limit.clearedBySuccess:
                    if slot.key == key.hash, !slot.shared {
                        slot.failures = 0
                        slot.lastFailure = .min
                        slot.blockedUntil = .min
                    }
                case .succeeded, .abandoned:
                    break
                }
            }
            if outcome == .succeeded { trust(attempt.keys.trust, in: &t.trusted, now) }
        }
        if outcome == .failed { note(now) }
    }

    // MARK: Login tokens

    /// Whether a login-token attempt on `instance` from `client` may go ahead at `now` (µs):
    /// `nil`, or the seconds to wait. `client` is evaluated only when some failure is recent
    /// enough to matter, so the common case (no attack) costs one atomic load.
    public func wait(instance: String, client: @autoclosure () -> IPAddress, now: Int64) -> Int? {
        let quietAfter = max(
            policy.window, policy.maximumClientDelay, policy.maximumInstanceDelay)
        if Self.elapsed(since: lastEvent.load(ordering: .relaxed), now) > quietAfter {
            return nil
        }
        let keys = keys(instance: instance, client: client())
        return tables.withLock { t in
            held(
                t, client: locate(keys.client, in: t.clients, now),
                instance: locate(keys.instance, in: t.instances, now), trust: keys.trust, now)
        }
    }

    /// Counts a failed login-token attempt (unknown, expired or revoked) at `now` (µs).
    public func recordFailure(instance: String, client: IPAddress, now: Int64) {
        let keys = keys(instance: instance, client: client)
        tables.withLock { t in
            each(claim(keys, &t, now), &t) { slot, _, limit in fail(&slot, now: now, limit) }
        }
        note(now)
    }

    // MARK: Slots

    /// A table's rule: failures free of any wait, the longest wait, whether a success clears.
    private struct Limit {
        let free: Int
        let cap: Int64
        let clearedBySuccess: Bool
    }

    /// Runs `body` on the attempt's client slot, then on its instance slot.
    private func each(
        _ attempt: Attempt, _ t: inout Tables, _ body: (inout Slot, Key, Limit) -> Void
    ) {
        body(
            &t.clients[attempt.clientSlot], attempt.keys.client,
            Limit(
                free: policy.freeFailuresPerClient, cap: policy.maximumClientDelay,
                clearedBySuccess: true))
        body(
            &t.instances[attempt.instanceSlot], attempt.keys.instance,
            Limit(
                free: policy.freeFailuresPerInstance, cap: policy.maximumInstanceDelay,
                clearedBySuccess: false))
    }

    private func keys(instance: String, client: IPAddress) -> Keys {
        let group = client.group
        func key(_ tag: UInt8, withClient: Bool) -> Key {
            var hasher = Hasher()
            hasher.combine(tag)
            hasher.combine(instance)
            if withClient { hasher.combine(group) }
            let hash = hasher.finalize()
            return Key(hash: hash, bucket: Int(UInt(bitPattern: hash) % UInt(buckets)) * ways)
        }
        return Keys(
            client: key(0, withClient: true), instance: key(1, withClient: false),
            trust: key(2, withClient: true))
    }

    /// An attempt with `keys`, counted in the slots ``claim(_:in:_:)`` gives its client and
    /// its instance.
    private func claim(_ keys: Keys, _ t: inout Tables, _ now: Int64) -> Attempt {
        Attempt(
            keys: keys, clientSlot: claim(keys.client, in: &t.clients, now),
            instanceSlot: claim(keys.instance, in: &t.instances, now))
    }

    /// The slot that holds `key`'s counts, or `nil` when none does: its own slot, else its
    /// bucket's first slot while keys share it.
    private func locate(_ key: Key, in slots: [Slot], _ now: Int64) -> Int? {
        let bucket = key.bucket..<key.bucket + ways
        if let own = bucket.first(where: { slots[$0].key == key.hash }) { return own }
        let first = slots[key.bucket]
        return first.shared && !quiet(first, now) ? key.bucket : nil
    }

    /// The slot `key`'s next attempt is counted in: the one ``locate(_:in:_:)`` finds (reset
    /// if it went quiet), else a quiet slot of its bucket, handed to it, else its bucket's
    /// first slot, now shared.
    private func claim(_ key: Key, in slots: inout [Slot], _ now: Int64) -> Int {
        let bucket = key.bucket..<key.bucket + ways
        let index =
            locate(key, in: slots, now) ?? bucket.first(where: { quiet(slots[$0], now) })
        guard let index else {
            slots[key.bucket].shared = true
            return key.bucket
        }
        if quiet(slots[index], now) { slots[index] = Slot(key: key.hash) }
        return index
    }

    /// Whether a slot holds nothing that still counts: no attempt in flight, no block, no
    /// failure within the window.
    private func quiet(_ slot: Slot, _ now: Int64) -> Bool {
        slot.inFlight == 0 && slot.blockedUntil <= now
            && Self.elapsed(since: slot.lastFailure, now) > policy.window
    }

    /// Records that `key`'s client logged in at `now`, in its own entry or the bucket's
    /// oldest.
    private func trust(_ key: Key, in trusted: inout [(key: Int, at: Int64)], _ now: Int64) {
        let bucket = key.bucket..<key.bucket + ways
        let index =
            bucket.first(where: { trusted[$0].key == key.hash })
            ?? bucket.min(by: { trusted[$0].at < trusted[$1].at })!
        trusted[index] = (key.hash, now)
    }

    /// The seconds to wait, or `nil`: the client slot's block, then the instance slot's
    /// unless the client logged in within ``Policy/trustLifetime``.
    private func held(_ t: Tables, client: Int?, instance: Int?, trust: Key, _ now: Int64)
        -> Int?
    {
        if let client, t.clients[client].blockedUntil > now {
            return seconds(t.clients[client].blockedUntil - now)
        }
        guard let instance, t.instances[instance].blockedUntil > now else { return nil }
        let trusted = t.trusted[trust.bucket..<trust.bucket + ways].contains {
            $0.key == trust.hash && Self.elapsed(since: $0.at, now) < policy.trustLifetime
        }
        return trusted ? nil : seconds(t.instances[instance].blockedUntil - now)
    }

    private func forget(_ slot: inout Slot, _ now: Int64) {
        if Self.elapsed(since: slot.lastFailure, now) > policy.window { slot.failures = 0 }
    }

    private func fail(_ slot: inout Slot, now: Int64, _ limit: Limit) {
        forget(&slot, now)
        slot.failures += 1
        slot.lastFailure = now
        block(&slot, now: now, limit)
    }

    /// Blocks the slot as a failure at `now` would: beyond the free ones, each counted attempt
    /// (failures and attempts in flight) doubles the wait from one second, up to the cap.
    private func block(_ slot: inout Slot, now: Int64, _ limit: Limit) {
        let counted = slot.failures + slot.inFlight
        guard counted > limit.free else { return }
        let doublings = min(counted - limit.free - 1, 30)
        let delay = min(Int64(1_000_000) << Int64(doublings), limit.cap)
        slot.blockedUntil = max(slot.blockedUntil, now + delay)
    }

    /// Records that a count or a block changed at `now`, for the fast path of ``wait``.
    private func note(_ now: Int64) {
        var seen = lastEvent.load(ordering: .relaxed)
        while seen < now {
            let (exchanged, current) = lastEvent.compareExchange(
                expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = current
        }
    }

    /// `now - then`, saturating (the empty slot's `Int64.min` means "long ago").
    private static func elapsed(since then: Int64, _ now: Int64) -> Int64 {
        let (difference, overflow) = now.subtractingReportingOverflow(then)
        return overflow ? .max : difference
    }

    private func seconds(_ micros: Int64) -> Int { Int((micros + 999_999) / 1_000_000) }
}
