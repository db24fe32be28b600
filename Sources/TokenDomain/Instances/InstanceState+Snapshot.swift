extension InstanceState {
    /// The fewest bytes an instance takes in a snapshot (a 2-byte id, empty strings, no
    /// tokens, no challenges), to bound a stored count by the bytes that remain.
    static let minimumSnapshotSize = 73

    /// Appends this instance's part of a snapshot (see ``ServerState/encodeSnapshot()``): its
    /// head, then its tokens in serial order.
    func writeSnapshot(into writer: inout ByteWriter) {
        writeSnapshotHead(into: &writer)
        for token in tokens {
            writer.tokenRecord(token)
        }
    }

    /// Everything of the instance but its token records: the fields, the token count, the
    /// two-factor part — challenge count (u64), challenges in id order, failures in a row
    /// (u32), login block (u8 presence + i64 end or 0) — and the backend credential.
    private func writeSnapshotHead(into writer: inout ByteWriter) {
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
        writer.u64(UInt64(challenges.count))
        for id in challenges.keys.sorted() {
            writer.challengeState(challenges[id]!)
        }
        writer.u32(challengeFailures)
        writer.bool(loginsBlockedUntil != nil)
        writer.i64(loginsBlockedUntil ?? 0)
        writer.bool(backendCredential != nil)
        for byte in backendCredential?.bytes ?? [] { writer.u8(byte) }
    }

    // MARK: In parts, for checkpoints

    /// The first part of this instance in a checkpoint: `u8 layout ‖ head` (the head of
    /// ``writeSnapshot(into:)``). Its tokens follow in ``encodeSnapshotChunk(_:)`` parts, one
    /// per chunk of ``tokens``, so that a checkpoint rewrites only the chunks that changed.
    public func encodeSnapshotHead() -> [UInt8] {
        var writer = ByteWriter(capacity: 512 + details.count + challenges.count * 240)
        writer.u8(ServerState.snapshotLayoutVersion)
        writeSnapshotHead(into: &writer)
        return writer.bytes
    }

    /// One chunk of ``TokenTable/chunks`` as a part of a checkpoint: its token records, as in a
    /// snapshot (serials implied by the chunk's position).
    public static func encodeSnapshotChunk(_ chunk: [TokenRecord]) -> [UInt8] {
        var capacity = chunk.count * TokenRecord.minimumSnapshotSize
        for token in chunk {
            if let description = token.description { capacity += 4 + description.utf8.count }
        }
        var writer = ByteWriter(capacity: capacity)
        for token in chunk { writer.tokenRecord(token) }
        return writer.bytes
    }

    /// How many chunk parts follow the head of an instance with `tokens` tokens.
    public static func snapshotChunkCount(tokens: Int) -> Int {
        (tokens + TokenTable.chunkSize - 1) / TokenTable.chunkSize
    }

    /// Reads an instance from its checkpoint parts: the head (``encodeSnapshotHead()``), then
    /// one part per chunk of its tokens, each holding exactly that chunk's records.
    /// - Throws: ``SnapshotDecodingError`` for malformed bytes or a wrong number of parts;
    ///   its offset is within the part it names in `field`.
    public init(snapshotHead: UnsafeRawBufferPointer, chunks: [UnsafeRawBufferPointer])
        throws(SnapshotDecodingError)
    {
        do throws(ByteReader.Failure) {
            var reader = ByteReader(snapshotHead)
            try reader.version(ServerState.snapshotLayoutVersion)
            let head = try Head(reader: &reader, after: nil)
            try reader.finish()
            guard chunks.count == Self.snapshotChunkCount(tokens: head.tokenCount) else {
                throw reader.failure(.invalidValue, "tokenCount", at: head.tokenCountOffset)
            }
            var tokens = [[TokenRecord]]()
            tokens.reserveCapacity(chunks.count)
            func count(of chunk: Int) -> Int {
                min(TokenTable.chunkSize, head.tokenCount - chunk * TokenTable.chunkSize)
            }
            for (position, chunk) in chunks.enumerated() {
                var chunkReader = ByteReader(chunk)
                tokens.append(
                    try chunkReader.tokenRecords(
                        count: count(of: position),
                        firstSerial: position * TokenTable.chunkSize + 1))
                try chunkReader.finish()
            }
            try self.init(head: head, chunks: tokens) { duplicate throws(ByteReader.Failure) in
                let chunk = duplicate / TokenTable.chunkSize
                var again = ByteReader(chunks[chunk])
                _ = try again.tokenRecords(
                    count: duplicate % TokenTable.chunkSize,
                    firstSerial: chunk * TokenTable.chunkSize + 1)
                return again.failure(.invalidValue, "token.hash")
            }
        } catch {
            throw SnapshotDecodingError(error)
        }
    }

    // MARK: Reading

    /// An instance's head as read, before its tokens.
    private struct Head {
        var id: InstanceID
        var createdAt: Int64
        var name: String
        var auth: InstanceAuth
        var generation: UInt64
        var email: String?
        var phoneNumber: String?
        var validated: UInt8
        var details: [UInt8]
        var lifecycle: InstanceLifecycle
        var tokenCount: Int
        var tokenCountOffset: Int
        var challenges: [ChallengeID: ChallengeState]
        var failures: UInt32
        var blockedUntil: Int64?
        var backendCredential: BackendCredentialFingerprint?

        /// Reads the head of an instance whose id must sort after `previous`.
        init(reader: inout ByteReader, after previous: InstanceID?) throws(ByteReader.Failure) {
            let idOffset = reader.offset
            guard let id = InstanceID(try reader.string("id")), previous.map({ $0 < id }) ?? true
            else { throw reader.failure(.invalidValue, "id", at: idOffset) }
            self.id = id
            createdAt = try reader.i64("createdAt")
            name = try reader.string("name")
            auth = try reader.auth()
            let generationOffset = reader.offset
            generation = try reader.u64("credentialGeneration")
            guard generation != 0 else {
                throw reader.failure(.invalidValue, "credentialGeneration", at: generationOffset)
            }
            email = try reader.optionalString("email")
            phoneNumber = try reader.optionalString("phoneNumber")
            validated = try reader.u8("validated")
            guard validated & ~3 == 0 else {
                throw reader.failure(.invalidValue, "validated", at: reader.offset - 1)
            }
            details = try reader.blob("details")
            let lifecycleOffset = reader.offset
            switch (try reader.u8("lifecycle"), try reader.i64("lifecycle.at")) {
            case (0, 0): lifecycle = .active
            case (1, let at): lifecycle = .deleted(at: at)
            default: throw reader.failure(.invalidValue, "lifecycle", at: lifecycleOffset)
            }
            tokenCountOffset = reader.offset
            let count = try reader.u64("tokenCount")
            guard count <= UInt64(UInt32.max) else {
                throw reader.failure(.invalidValue, "tokenCount", at: tokenCountOffset)
            }
            tokenCount = Int(count)
            let challengeCount = try reader.count(
                "challengeCount", minimumSize: ChallengeState.minimumSnapshotSize)
            challenges = [ChallengeID: ChallengeState](minimumCapacity: challengeCount)
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
            failures = try reader.u32("challengeFailures")
            let blockOffset = reader.offset
            switch (try reader.bool("loginsBlocked"), try reader.i64("loginsBlocked.until")) {
            case (false, 0): blockedUntil = nil
            case (true, let until): blockedUntil = until
            default: throw reader.failure(.invalidValue, "loginsBlocked", at: blockOffset)
            }
            backendCredential =
                try reader.bool("backendCredential")
                ? try reader.fingerprint("backendCredential") : nil
        }
    }

    /// Reads one instance of a snapshot (head, then its tokens) whose id must sort after
    /// `previous`.
    init(snapshot reader: inout ByteReader, after previous: InstanceID?) throws(ByteReader.Failure)
    {
        let head = try Head(reader: &reader, after: previous)
        guard head.tokenCount <= reader.remaining / TokenRecord.minimumSnapshotSize else {
            throw reader.failure(.truncated, "tokenCount", at: head.tokenCountOffset)
        }
        let tokensStart = reader.offset
        var chunks = [[TokenRecord]]()
        chunks.reserveCapacity(Self.snapshotChunkCount(tokens: head.tokenCount))
        var first = 0
        while first < head.tokenCount {
            let count = min(TokenTable.chunkSize, head.tokenCount - first)
            chunks.append(try reader.tokenRecords(count: count, firstSerial: first + 1))
            first += count
        }
        let read = reader
        try self.init(head: head, chunks: chunks) { duplicate throws(ByteReader.Failure) in
            var again = read
            again.seek(to: tokensStart)
            _ = try again.tokenRecords(count: duplicate, firstSerial: 1)
            return again.failure(.invalidValue, "token.hash")
        }
    }

    /// The instance of `head` with the tokens of `chunks`, indexed.
    /// - Parameter duplicate: the failure to throw when the token at this position has the
    ///   hash of an earlier one (the error path only: it finds where that token's bytes are).
    private init(
        head: Head, chunks: [[TokenRecord]],
        duplicate: (Int) throws(ByteReader.Failure) -> ByteReader.Failure
    ) throws(ByteReader.Failure) {
        // The chunks were read at their sizes, so they always make a table.
        let tokens = TokenTable(chunks: chunks) ?? TokenTable()
        var index = TokenHashIndex()
        if let position = index.build(from: tokens) {
            throw try duplicate(position)
        }
        self.init(
            id: head.id, createdAt: head.createdAt, name: head.name, auth: head.auth,
            credentialGeneration: head.generation, email: head.email,
            phoneNumber: head.phoneNumber, emailValidated: head.validated & 1 != 0,
            phoneValidated: head.validated & 2 != 0, details: head.details,
            lifecycle: head.lifecycle, tokens: tokens, tokenIndex: index,
            challenges: head.challenges, challengeFailures: head.failures,
            loginsBlockedUntil: head.blockedUntil, backendCredential: head.backendCredential)
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
    /// `count` tokens of a snapshot, the first with serial `firstSerial`, as one chunk.
    mutating func tokenRecords(count: Int, firstSerial: Int) throws(Failure) -> [TokenRecord] {
        var chunk = [TokenRecord]()
        chunk.reserveCapacity(count)
        for position in 0..<count {
            chunk.append(try tokenRecord(serial: TokenSerial(UInt64(firstSerial + position))))
        }
        return chunk
    }

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
