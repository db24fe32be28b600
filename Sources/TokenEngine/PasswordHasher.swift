import Crypto
import CryptoExtras
import Dispatch
import Synchronization
import TokenDomain

/// Hashes and checks passwords with scrypt on threads of its own.
///
/// A check takes ~55 ms of one core at the default cost. Swift's cooperative pool has two
/// threads on this machine, and token checks (the hot path) run there, so the KDF runs on
/// ``EngineConfiguration/kdfThreads`` threads of a ``HashingQueue`` instead and the awaiting
/// task is suspended, not blocking a pool thread. Every hash, of a presented password or of a
/// new one, names its ``RequesterKey`` and waits for its turn in that requester's share of
/// the queue; a full share or queue is ``EngineError/busy`` at once, before any work.
final class PasswordHasher: Sendable {
    /// The key derivation: password, salt, log2 N, r, p, output bytes.
    typealias Derive =
        @Sendable (
            _ password: [UInt8], _ salt: [UInt8], _ log2N: UInt8, _ r: UInt32, _ p: UInt32,
            _ count: Int
        ) throws -> [UInt8]

    let queue: HashingQueue
    private let derive: Derive
    /// KDF runs started so far (hashes and checks), for tests of the cache and the throttle.
    let runs = AtomicCounter()
    let parameters: ScryptParameters

    /// - Parameter derive: scrypt unless a test replaces it (to hold a hash in progress and
    ///   see the order hashes run in).
    init(parameters: ScryptParameters, limits: HashingQueue.Limits, derive: Derive? = nil) {
        self.parameters = parameters
        queue = HashingQueue(limits)
        self.derive =
            derive ?? { password, salt, log2N, r, p, count in
                try PasswordHasher.derive(
                    password, salt: salt, log2N: log2N, r: r, p: p, count: count)
            }
    }

    /// A new hash of `password` with a fresh random salt and the configured cost.
    /// - Throws: ``EngineError/busy`` when `requester`'s share of the queue is full.
    func hash(_ password: String, for requester: RequesterKey) async throws(EngineError)
        -> PasswordHash
    {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<parameters.saltBytes).map { _ in
            UInt8.random(in: 0...255, using: &generator)
        }
        let p = parameters
        let derive = derive
        let derived = try await run(for: requester) {
            try derive(Array(password.utf8), salt, p.log2N, p.r, p.p, p.derivedBytes)
        }
        return PasswordHash(
            algorithm: "scrypt", log2N: p.log2N, r: p.r, p: p.p, salt: salt, derived: derived)
    }

    /// Whether `password` matches `stored`, computed with the stored parameters and compared in
    /// constant time.
    /// - Throws: ``EngineError/busy`` when `requester`'s share of the queue is full.
    func verify(_ password: String, against stored: PasswordHash, for requester: RequesterKey)
        async throws(EngineError) -> Bool
    {
        guard stored.algorithm == "scrypt", stored.isWellFormed else { return false }
        let derive = derive
        let derived = try await run(for: requester) {
            try derive(
                Array(password.utf8), stored.salt, stored.log2N, stored.r, stored.p,
                stored.derived.count)
        }
        return ConstantTime.equals(derived, stored.derived)
    }

    private func run(
        for requester: RequesterKey, _ work: @escaping @Sendable () throws -> [UInt8]
    ) async throws(EngineError) -> [UInt8] {
        let runs = runs
        let result: Result<[UInt8], EngineError> = await withCheckedContinuation { continuation in
            let queued = queue.submit(for: requester) {
                _ = runs.increment()
                do {
                    continuation.resume(returning: .success(try work()))
                } catch {
                    continuation.resume(
                        returning: .failure(
                            EngineError(
                                code: .genericInternalInvariantFailure,
                                hint: "password hashing failed")))
                }
            }
            if !queued { continuation.resume(returning: .failure(.busy)) }
        }
        return try result.get()
    }

    static func derive(
        _ password: [UInt8], salt: [UInt8], log2N: UInt8, r: UInt32, p: UInt32, count: Int
    ) throws
        -> [UInt8]
    {
        let key = try KDF.Scrypt.deriveKey(
            from: password, salt: salt, outputByteCount: count, rounds: 1 << Int(log2N),
            blockSize: Int(r),
            parallelism: Int(p))
        return key.withUnsafeBytes { Array($0) }
    }
}

/// A counter shared by threads.
final class AtomicCounter: Sendable {
    private let value = Mutex(0)
    /// Adds one and returns the value before.
    func increment() -> Int {
        value.withLock { v in
            defer { v &+= 1 }; return v
        }
    }
    var current: Int { value.withLock { $0 } }
}
