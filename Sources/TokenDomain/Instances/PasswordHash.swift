/// A stored password hash: the KDF's name and parameters, the salt and the derived bytes.
///
/// Stored in events forever (never the password), so the parameters travel with the hash and
/// old hashes keep verifying after the defaults change. The domain never computes or checks
/// one; the engine does (scrypt), and compares derived bytes with ``ConstantTime``. The
/// description shows the parameters and sizes only: a hash can be attacked offline, so its
/// bytes stay out of logs and error messages.
public struct PasswordHash: Hashable, Sendable, CustomStringConvertible,
    CustomDebugStringConvertible
{
    /// The KDF, e.g. `"scrypt"`.
    public var algorithm: String
    /// scrypt's cost N as a power of two.
    public var log2N: UInt8
    /// scrypt's block size.
    public var r: UInt32
    /// scrypt's parallelism.
    public var p: UInt32
    /// The random salt, fresh per password.
    public var salt: [UInt8]
    /// The KDF output.
    public var derived: [UInt8]

    public init(
        algorithm: String, log2N: UInt8, r: UInt32, p: UInt32, salt: [UInt8], derived: [UInt8]
    ) {
        self.algorithm = algorithm
        self.log2N = log2N
        self.r = r
        self.p = p
        self.salt = salt
        self.derived = derived
    }

    /// Whether the value can be a real hash: a named algorithm, cost parameters above zero,
    /// `log2N` in 1...63, at least 8 bytes of salt and 16 derived bytes. A hash failing this
    /// is a bad auth configuration (codes 2601/2602).
    public var isWellFormed: Bool {
        !algorithm.isEmpty && algorithm.utf8.count <= 64 && (1...63).contains(log2N) && r > 0
            && p > 0 && salt.count >= 8 && salt.count <= 1024 && derived.count >= 16
            && derived.count <= 1024
    }

    public var description: String {
        "\(algorithm)(log2N: \(log2N), r: \(r), p: \(p), salt: \(salt.count) bytes, "
            + "derived: \(derived.count) bytes)"
    }

    public var debugDescription: String { description }
}
