import TokenDomain

/// What an operator can set about the token engine.
public struct EngineConfiguration: Sendable {
    /// The longest lifetime a token may get, in µs (`nil`: no limit, `forever` allowed). Caps
    /// every requested duration, `forever` included.
    public var maxTokenDuration: UInt64?
    /// scrypt cost for new password hashes. Old hashes keep their own stored parameters.
    /// The default (N = 2^15, r = 8, p = 1) takes about 55–60 ms on this project's machine.
    public var passwordHashing = ScryptParameters.standard
    /// Threads that run the password KDF, apart from Swift's cooperative pool (which has only
    /// two threads here and must keep serving token checks).
    public var kdfThreads = 1
    /// Password hashes that may wait for a KDF thread, from all requesters together; more are
    /// refused at once with ``EngineError/busy`` (HTTP 429). 32 hashes are ~2 s of one thread.
    public var kdfQueueLimit = 32
    /// Password hashes of one requester (the HTTP layer: one client address, IPv6 per /64)
    /// waiting or running at once; more are refused with ``EngineError/busy``.
    public var kdfQueueLimitPerRequester = 4
    /// Replaces scrypt; tests set it (through `@testable import`) to hold a hash in progress
    /// and see the order hashes run in. Production code never does.
    var keyDerivation: PasswordHasher.Derive?
    /// Most entries in the cache of recently verified password credentials.
    public var credentialCacheCapacity = 4_096
    /// How long a verified password credential is trusted without running the KDF again (µs).
    public var credentialCacheLifetime: Int64 = 60_000_000
    /// Write a checkpoint of the state after this many new events (0: never).
    public var checkpointInterval = 100_000
    /// The name of this engine's checkpoint: ``ReplayedState/checkpointName``, or with other
    /// servers on the log one of this server's own (a checkpoint is written in parts, and
    /// saving one removes the parts of its name it does not name).
    public var checkpointName = ReplayedState.checkpointName
    /// Two-factor authentication: helpers, when challenges apply, code length and key.
    public var twoFactor = TwoFactorConfiguration()
    /// Whether `{"method":"external"}` (an instance with no checks at all) may be set
    /// (spec §10.2). Instances that already have it keep it either way.
    public var allowExternalAuth = false
    /// Where the backend credentials live (spec §9); the server passes the data directory's.
    /// The default keeps them in memory only.
    public var backendCredentials = BackendCredentialStore()
    /// The merchant backend whose instances are kept in step with Tallystick's (spec §9);
    /// `nil`: standalone, nothing reaches a merchant.
    public var merchant: MerchantBackend?
    /// Whether other servers append to the same log (a shared PostgreSQL store): the engine
    /// then follows the log and folds their records too, and a decision refused for a stale
    /// expected version waits for the state to catch up before it is taken again.
    public var sharedLog = false
    /// The key that signs the log's tree heads (``TokenEngine/sealTreeHead(now:)``); `nil`:
    /// no heads are signed.
    public var treeHeadSigner: TreeHeadSigner?
    /// Called after each checkpoint is saved (the server logs it).
    public var checkpointSaved: (@Sendable (CheckpointReport) -> Void)?
    /// Where the server stops so that a test can kill it there (`TALLYSTICK_FAILPOINT`);
    /// `nil` in every real deployment.
    public var failpoint: Failpoint?

    public init() {}
}

/// scrypt parameters for new password hashes.
public struct ScryptParameters: Hashable, Sendable {
    public var log2N: UInt8
    public var r: UInt32
    public var p: UInt32
    /// Bytes of fresh random salt per password.
    public var saltBytes = 16
    /// Bytes of derived key stored.
    public var derivedBytes = 32

    public init(log2N: UInt8, r: UInt32, p: UInt32) {
        self.log2N = log2N
        self.r = r
        self.p = p
    }

    /// N = 2^15, r = 8, p = 1: about 55–60 ms and 32 MiB here.
    public static let standard = ScryptParameters(log2N: 15, r: 8, p: 1)
    /// N = 2^10: for tests only, where thousands of hashes must stay fast.
    public static let testing = ScryptParameters(log2N: 10, r: 8, p: 1)
}
