import Crypto
import CryptoExtras
import Dispatch
import Synchronization
import TokenDomain

/// Hashes and checks passwords with scrypt on threads of its own.
///
/// A check takes ~55 ms of one core at the default cost. Swift's cooperative pool has two
/// threads on this machine, and token checks (the hot path) run there, so the KDF runs on
/// ``EngineConfiguration/kdfThreads`` dispatch queues instead and the awaiting task is
/// suspended, not blocking a pool thread. Requests queue for a KDF thread in arrival order.
final class PasswordHasher: Sendable {
    private let queues: [DispatchQueue]
    private let next = AtomicCounter()
    /// KDF runs so far (hashes and checks), for tests of the credential cache.
    let runs = AtomicCounter()
    let parameters: ScryptParameters

    init(parameters: ScryptParameters, threads: Int) {
        self.parameters = parameters
        queues = (0..<max(1, threads)).map { DispatchQueue(label: "tallystick-kdf-\($0)") }
    }

    /// A new hash of `password` with a fresh random salt and the configured cost.
    func hash(_ password: String) async throws(EngineError) -> PasswordHash {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<parameters.saltBytes).map { _ in
            UInt8.random(in: 0...255, using: &generator)
        }
        let p = parameters
        let derived = try await run {
            try PasswordHasher.derive(
                Array(password.utf8), salt: salt, log2N: p.log2N, r: p.r, p: p.p,
                count: p.derivedBytes)
        }
        return PasswordHash(
            algorithm: "scrypt", log2N: p.log2N, r: p.r, p: p.p, salt: salt, derived: derived)
    }

    /// Whether `password` matches `stored`, computed with the stored parameters and compared in
    /// constant time.
    func verify(_ password: String, against stored: PasswordHash) async throws(EngineError) -> Bool
    {
        guard stored.algorithm == "scrypt", stored.isWellFormed else { return false }
        let derived = try await run {
            try PasswordHasher.derive(
                Array(password.utf8), salt: stored.salt, log2N: stored.log2N, r: stored.r,
                p: stored.p,
                count: stored.derived.count)
        }
        return ConstantTime.equals(derived, stored.derived)
    }

    private func run(_ work: @escaping @Sendable () throws -> [UInt8]) async throws(EngineError)
        -> [UInt8]
    {
        let queue = queues[next.increment() % queues.count]
        _ = runs.increment()
        let result: Result<[UInt8], EngineError> = await withCheckedContinuation { continuation in
            queue.async {
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
