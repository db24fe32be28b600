import Crypto
import Synchronization
import TokenDomain

/// Remembers password credentials that passed the KDF recently, so that clients which send
/// `Bearer secret-token:<password>` with every request pay the ~55 ms check once.
///
/// Keys are HMAC-SHA256 under a key made fresh for each process, over the instance id and the
/// password: the cache holds no password and nothing that can be checked against one offline.
/// An entry names the credential generation it was checked against and expires after
/// ``EngineConfiguration/credentialCacheLifetime``; a password change drops the instance's
/// entries (and a stale generation could never match anyway). The cache holds at most
/// `capacity` entries and forgets the oldest first.
final class CredentialCache: Sendable {
    private struct Key: Hashable {
        var a, b, c, d: UInt64
    }

    private struct Entry {
        var instance: InstanceID
        var generation: UInt64
        var expiresAt: Int64
    }

    private struct Contents {
        var entries: [Key: Entry] = [:]
        /// Insertion order, for eviction; may hold keys already removed.
        var order: [Key] = []
        var orderStart = 0
    }

    private let secret = SymmetricKey(size: .bits256)
    private let contents = Mutex(Contents())
    private let capacity: Int
    private let lifetime: Int64

    init(capacity: Int, lifetime: Int64) {
        self.capacity = max(1, capacity)
        self.lifetime = lifetime
    }

    private func key(_ instance: InstanceID, _ password: String) -> Key {
        var mac = HMAC<SHA256>(key: secret)
        mac.update(data: Array(instance.rawValue.utf8))
        mac.update(data: [0])
        mac.update(data: Array(password.utf8))
        return Data32(mac.finalize()).key
    }

    /// Whether `password` was verified for `instance` at `generation` and has not expired.
    func contains(_ instance: InstanceID, password: String, generation: UInt64, now: Int64) -> Bool
    {
        let k = key(instance, password)
        return contents.withLock { c in
            guard let entry = c.entries[k] else { return false }
            return entry.instance == instance && entry.generation == generation
                && entry.expiresAt > now
        }
    }

    /// Records a successful check.
    func insert(_ instance: InstanceID, password: String, generation: UInt64, now: Int64) {
        let k = key(instance, password)
        contents.withLock { c in
            if c.entries.updateValue(
                Entry(instance: instance, generation: generation, expiresAt: now + lifetime),
                forKey: k)
                == nil
            {
                c.order.append(k)
            }
            while c.entries.count > capacity, c.orderStart < c.order.count {
                c.entries.removeValue(forKey: c.order[c.orderStart])
                c.orderStart += 1
            }
            if c.orderStart > capacity {
                c.order.removeFirst(c.orderStart)
                c.orderStart = 0
            }
        }
    }

    /// Forgets every entry of `instance` (its credentials changed or it was deleted).
    func drop(_ instance: InstanceID) {
        contents.withLock { c in c.entries = c.entries.filter { $0.value.instance != instance } }
    }

    /// Entries held now (for tests).
    var count: Int { contents.withLock { $0.entries.count } }

    private struct Data32 {
        var key: Key
        init(_ mac: HashedAuthenticationCode<SHA256>) {
            key = mac.withUnsafeBytes { raw in
                Key(
                    a: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
                    b: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                    c: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self),
                    d: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
            }
        }
    }
}
