/// The fields of the challenge events and of challenge state in snapshots and the digest.
extension ByteWriter {
    /// A challenge id: a `string`.
    mutating func challengeID(_ value: ChallengeID) {
        string(value.rawValue)
    }

    mutating func tanHash(_ value: TANHash) {
        hash(value.digest)
    }

    mutating func bodyHash(_ value: RequestBodyHash) {
        hash(value.digest)
    }

    /// A challenge's fixed fields, as `challenge-created.v1` stores them after the layout
    /// byte (snapshot and digest reuse the order).
    mutating func challengeCreated(_ created: ChallengeCreated) {
        challengeID(created.id)
        u8(created.operation.rawValue)
        u8(created.channel.rawValue)
        string(created.address)
        bodyHash(created.bodyHash)
        challengeID(created.group)
        bool(created.combiAnd)
        i64(created.at)
        i64(created.solveExpiry)
    }

    /// A whole challenge state: its fixed fields, the code (`u8` presence then hash, sentAt,
    /// validUntil, attemptsLeft) and the status (`u8` 0 pending / 1 solved / 2 consumed /
    /// 3 expired, then `i64` instant or 0).
    mutating func challengeState(_ challenge: ChallengeState) {
        challengeCreated(
            ChallengeCreated(
                id: challenge.id, operation: challenge.operation, channel: challenge.channel,
                address: challenge.address, bodyHash: challenge.bodyHash, group: challenge.group,
                combiAnd: challenge.combiAnd, at: challenge.createdAt,
                solveExpiry: challenge.solveExpiry))
        if let code = challenge.code {
            u8(1)
            tanHash(code.hash)
            i64(code.sentAt)
            i64(code.validUntil)
            u8(code.attemptsLeft)
        } else {
            u8(0)
        }
        switch challenge.status {
        case .pending:
            u8(0)
            i64(0)
        case .solved(let at):
            u8(1)
            i64(at)
        case .consumed(let at):
            u8(2)
            i64(at)
        case .expired(let at):
            u8(3)
            i64(at)
        }
    }
}

extension ByteReader {
    mutating func challengeID(_ field: StaticString) throws(Failure) -> ChallengeID {
        let start = offset
        guard let id = ChallengeID(try string(field)) else {
            throw failure(.invalidValue, field, at: start)
        }
        return id
    }

    mutating func tanHash(_ field: StaticString) throws(Failure) -> TANHash {
        TANHash(digest: try hash(field))
    }

    mutating func bodyHash(_ field: StaticString) throws(Failure) -> RequestBodyHash {
        RequestBodyHash(digest: try hash(field))
    }

    mutating func operation(_ field: StaticString) throws(Failure) -> ProtectedOperation {
        guard let operation = ProtectedOperation(rawValue: try u8(field)) else {
            throw failure(.invalidValue, field, at: offset - 1)
        }
        return operation
    }

    mutating func merchantAction(_ field: StaticString) throws(Failure)
        -> MerchantInstanceChanged.Action
    {
        guard let action = MerchantInstanceChanged.Action(rawValue: try u8(field)) else {
            throw failure(.invalidValue, field, at: offset - 1)
        }
        return action
    }

    /// A backend credential's fingerprint: 8 raw bytes.
    mutating func fingerprint(_ field: StaticString) throws(Failure) -> BackendCredentialFingerprint
    {
        var bytes = [UInt8]()
        for _ in 0..<BackendCredentialFingerprint.byteCount { bytes.append(try u8(field)) }
        return BackendCredentialFingerprint(bytes: bytes)!
    }

    mutating func channel(_ field: StaticString) throws(Failure) -> TANChannel {
        guard let channel = TANChannel(rawValue: try u8(field)) else {
            throw failure(.invalidValue, field, at: offset - 1)
        }
        return channel
    }

    /// The fields ``ByteWriter/challengeCreated(_:)`` writes.
    mutating func challengeCreated() throws(Failure) -> ChallengeCreated {
        ChallengeCreated(
            id: try challengeID("id"), operation: try operation("operation"),
            channel: try channel("channel"), address: try string("address"),
            bodyHash: try bodyHash("bodyHash"), group: try challengeID("group"),
            combiAnd: try bool("combiAnd"), at: try i64("at"),
            solveExpiry: try i64("solveExpiry"))
    }

    /// The fields ``ByteWriter/challengeState(_:)`` writes.
    mutating func challengeState() throws(Failure) -> ChallengeState {
        var challenge = ChallengeState(created: try challengeCreated())
        if try bool("code") {
            challenge.code = TANCode(
                hash: try tanHash("code.hash"), sentAt: try i64("code.sentAt"),
                validUntil: try i64("code.validUntil"), attemptsLeft: try u8("code.attemptsLeft"))
        }
        let statusOffset = offset
        switch (try u8("status"), try i64("status.at")) {
        case (0, 0): challenge.status = .pending
        case (1, let at): challenge.status = .solved(at: at)
        case (2, let at): challenge.status = .consumed(at: at)
        case (3, let at): challenge.status = .expired(at: at)
        default: throw failure(.invalidValue, "status", at: statusOffset)
        }
        return challenge
    }
}
