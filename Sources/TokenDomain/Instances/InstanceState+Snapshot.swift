extension InstanceState {
    /// The fewest bytes an instance takes in a snapshot (a 2-byte id, empty strings, no
    /// tokens, no challenges), to bound a stored count by the bytes that remain.
    static let minimumSnapshotSize = 73

    /// Appends this instance's part of a snapshot; see ``ServerState/encodeSnapshot()``.
    func writeSnapshot(into writer: inout ByteWriter) {
        writer.string(id.rawValue)
        writer.i64(createdAt)
        writer.string(name)
        writer.auth(auth)
        writer.u64(credentialGeneration)
        writer.optionalString(email)
        writer.optionalString(phoneNumber)
        writer.u8((emailValidated ? 1 : 0) | (phoneValidated ? 2 : 0))
        writer.blob(details)
        switch lifecycle {
        case .active:
            writer.u8(0)
            writer.i64(0)
        case .deleted(let at):
            writer.u8(1)
            writer.i64(at)
        }
        writer.u64(UInt64(tokens.count))
        for token in tokens {
            writer.tokenRecord(token)
        }
        writeChallenges(into: &writer)
        writer.bool(backendCredential != nil)
        for byte in backendCredential?.bytes ?? [] { writer.u8(byte) }
    }

    /// The two-factor part of an instance: challenge count (u64), challenges in id order,
    /// failures in a row (u32), login block (u8 presence + i64 end or 0).
    private func writeChallenges(into writer: inout ByteWriter) {
        writer.u64(UInt64(challenges.count))
        for id in challenges.keys.sorted() {
            writer.challengeState(challenges[id]!)
        }
        writer.u32(challengeFailures)
        writer.bool(loginsBlockedUntil != nil)
        writer.i64(loginsBlockedUntil ?? 0)
    }

    /// Reads one instance of a snapshot whose id must sort after `previous`.
    init(snapshot reader: inout ByteReader, after previous: InstanceID?) throws(ByteReader.Failure)
    {
        let idOffset = reader.offset
        guard let id = InstanceID(try reader.string("id")), previous.map({ $0 < id }) ?? true
        else { throw reader.failure(.invalidValue, "id", at: idOffset) }
        let createdAt = try reader.i64("createdAt")
        let name = try reader.string("name")
        let auth = try reader.auth()
        let generationOffset = reader.offset
        let generation = try reader.u64("credentialGeneration")
        guard generation != 0 else {
            throw reader.failure(.invalidValue, "credentialGeneration", at: generationOffset)
        }
        let email = try reader.optionalString("email")
        let phoneNumber = try reader.optionalString("phoneNumber")
        let validated = try reader.u8("validated")
        guard validated & ~3 == 0 else {
            throw reader.failure(.invalidValue, "validated", at: reader.offset - 1)
        }
        let details = try reader.blob("details")
        let lifecycleOffset = reader.offset
        let lifecycle: InstanceLifecycle
        switch (try reader.u8("lifecycle"), try reader.i64("lifecycle.at")) {
        case (0, 0): lifecycle = .active
        case (1, let at): lifecycle = .deleted(at: at)
        default: throw reader.failure(.invalidValue, "lifecycle", at: lifecycleOffset)
        }
        let countOffset = reader.offset
        let count = try reader.count("tokenCount", minimumSize: TokenRecord.minimumSnapshotSize)
        guard count <= Int(UInt32.max) else {
            throw reader.failure(.invalidValue, "tokenCount", at: countOffset)
        }
        let tokensStart = reader.offset
        var tokens: [TokenRecord] = []
        tokens.reserveCapacity(count)
        for position in 0..<count {
            tokens.append(try reader.tokenRecord(serial: TokenSerial(UInt64(position) + 1)))
        }
        var index = TokenHashIndex()
        if let duplicate = index.build(from: tokens) {
            // The error path only: find where the record starts by reading up to it again.
            var again = reader
            again.seek(to: tokensStart)
            for position in 0..<duplicate {
                _ = try again.tokenRecord(serial: TokenSerial(UInt64(position) + 1))
            }
            throw again.failure(.invalidValue, "token.hash")
        }
        let challengeCount = try reader.count(
            "challengeCount", minimumSize: ChallengeState.minimumSnapshotSize)
        var challenges = [ChallengeID: ChallengeState](minimumCapacity: challengeCount)
        var previousChallenge: ChallengeID?
        for _ in 0..<challengeCount {
            let start = reader.offset
            let challenge = try reader.challengeState()
            guard previousChallenge.map({ $0 < challenge.id }) ?? true else {
                throw reader.failure(.invalidValue, "challenge.id", at: start)
            }
            previousChallenge = challenge.id
            challenges[challenge.id] = challenge
        }
        let failures = try reader.u32("challengeFailures")
        let blockOffset = reader.offset
        let blockedUntil: Int64?
        switch (try reader.bool("loginsBlocked"), try reader.i64("loginsBlocked.until")) {
        case (false, 0): blockedUntil = nil
        case (true, let until): blockedUntil = until
        default: throw reader.failure(.invalidValue, "loginsBlocked", at: blockOffset)
        }
        let backendCredential =
            try reader.bool("backendCredential") ? try reader.fingerprint("backendCredential") : nil
        self.init(
            id: id, createdAt: createdAt, name: name, auth: auth,
            credentialGeneration: generation, email: email, phoneNumber: phoneNumber,
            emailValidated: validated & 1 != 0, phoneValidated: validated & 2 != 0,
            details: details, lifecycle: lifecycle, tokens: tokens, tokenIndex: index,
            challenges: challenges, challengeFailures: failures, loginsBlockedUntil: blockedUntil,
            backendCredential: backendCredential)
    }
}

extension ChallengeState {
    /// The bytes of a challenge with a 1-byte id and group, an empty address and no code.
    static let minimumSnapshotSize = 75
}

extension TokenRecord {
    /// The bytes of a token without a description in a snapshot.
    static let minimumSnapshotSize = 68
}

extension ByteWriter {
    /// A token of a snapshot; its serial is implied by its position.
    mutating func tokenRecord(_ token: TokenRecord) {
        hash(token.hash)
        u8(token.scope.rawValue)
        u8((token.refreshable ? 1 : 0) | (token.revokedAt != nil ? 2 : 0))
        i64(token.createdAt)
        i64(token.expiry.rawValue)
        origin(token.origin)
        i64(token.revokedAt ?? 0)
        optionalString(token.description)
    }
}

extension ByteReader {
    /// A token of a snapshot, given the serial its position implies.
    @inline(__always)
    mutating func tokenRecord(serial: TokenSerial) throws(Failure) -> TokenRecord {
        let hash = try hash("token.hash")
        let scope = try scope("token.scope")
        let flags = try u8("token.flags")
        guard flags & ~3 == 0 else { throw failure(.invalidValue, "token.flags", at: offset - 1) }
        let createdAt = try i64("token.createdAt")
        let expiry = TokenExpiry(rawValue: try i64("token.expiry"))
        let origin = try origin()
        let revokedAt = try i64("token.revokedAt")
        guard flags & 2 != 0 || revokedAt == 0 else {
            throw failure(.invalidValue, "token.revokedAt", at: offset - 8)
        }
        let description = try optionalString("token.description")
        return TokenRecord(
            hash: hash, serial: serial, createdAt: createdAt, expiry: expiry,
            description: description, origin: origin, revokedAt: flags & 2 != 0 ? revokedAt : nil,
            scope: scope, refreshable: flags & 1 != 0)
    }
}
