import EventLog
import Hummingbird
import TokenDomain
import TokenEngine

/// The audit endpoints, for `admin` only (`instances-read`): the newest signed tree head and
/// the proofs an auditor checks offline with the log's public key (`tallystick-log
/// check-proof`, `check-consistency`), in the same JSON as `tallystick-log prove` and
/// `prove-consistency` write.
///
/// Proofs are given only against signed heads: `tree_size` and `first`/`second` must be sizes
/// of signed heads (`GET /audit/tree-head`, `tallystick-log tree-heads`).
extension MerchantAPI {
    /// `GET /audit/tree-head`: the newest signed tree head; 204 when none was signed yet.
    func auditTreeHead(_ request: Request, _ context: MerchantRequestContext, _: InstanceID)
        async throws -> Response
    {
        try await authenticateAdmin(request, context, permission: .instancesRead)
        guard let head = try await audited({ try await engine.auditLog.newestSignedTreeHead() })
        else { return Self.noContent() }
        return AuditDocument(json: head.json).response()
    }

    /// `GET /audit/proof?sequence=S[&tree_size=N]`: the record of sequence S with its audit
    /// path to the signed head of size N (default: the newest).
    func auditProof(_ request: Request, _ context: MerchantRequestContext, _: InstanceID)
        async throws -> Response
    {
        try await authenticateAdmin(request, context, permission: .instancesRead)
        let sequence = try Self.size(request, "sequence", required: true)!
        let treeSize = try Self.size(request, "tree_size", required: false)
        let log = engine.auditLog
        let head = try await audited {
            if let treeSize { return try await log.signedTreeHead(size: treeSize) }
            return try await log.newestSignedTreeHead()
        }
        guard let head else {
            if treeSize == nil {
                throw TalerError.malformed("sequence", "no tree head has been signed yet")
            }
            throw TalerError.malformed(
                "tree_size", "no tree head of that size was signed (see GET /audit/tree-head)")
        }
        guard sequence >= 1, sequence <= head.treeSize else {
            throw TalerError.malformed("sequence", "the sequence is not in the signed tree")
        }
        let proof = try await audited {
            try await log.inclusionProof(sequence: sequence, treeSize: head.treeSize)
        }
        return AuditDocument(json: proof.json).response()
    }

    /// `GET /audit/consistency?first=N&second=M`: the proof that the signed head of size M
    /// extends the one of size N.
    func auditConsistency(_ request: Request, _ context: MerchantRequestContext, _: InstanceID)
        async throws -> Response
    {
        try await authenticateAdmin(request, context, permission: .instancesRead)
        let first = try Self.size(request, "first", required: true)!
        let second = try Self.size(request, "second", required: true)!
        guard first >= 1, first <= second else {
            throw TalerError.malformed("first", "first must be at least 1 and at most second")
        }
        let log = engine.auditLog
        for (name, size) in [("first", first), ("second", second)] {
            guard try await audited({ try await log.signedTreeHead(size: size) }) != nil else {
                throw TalerError.malformed(name, "no tree head of that size was signed")
            }
        }
        let proof = try await audited {
            try await log.consistencyProof(first: first, second: second)
        }
        return AuditDocument(json: proof.json).response()
    }

    /// A non-negative integer query parameter.
    private static func size(_ request: Request, _ name: String, required: Bool) throws
        -> UInt64?
    {
        guard let text = request.uri.queryParameters[Substring(name)] else {
            if required { throw TalerError.missing(name) }
            return nil
        }
        guard let value = UInt64(text) else {
            throw TalerError.malformed(name, "\(name) must be a non-negative integer")
        }
        return value
    }

    /// Runs a read of the log, answering a storage failure with 500 (code 53).
    private func audited<R>(_ body: () async throws -> R) async throws -> R {
        do {
            return try await body()
        } catch let error as EventLogError {
            logger.error("audit read failed: \(error)")
            throw TalerError(.genericDBFetchFailed, hint: "the event log could not be read")
        }
    }
}
