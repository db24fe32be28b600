/// The stored form of events: a type tag (``EventTag``) and a compact little-endian binary
/// payload whose first byte is the layout version. Layouts: `EVENTS.md` beside the sources.
///
/// Built for the start-up fold (a million events a second with the log's hashing): no
/// Foundation, no JSON, no allocation while decoding beyond the strings and byte arrays the
/// event holds. Stored layouts are never changed; a new layout gets a new tag or version.
public enum EventCodec {
    /// The layout version byte every v1 payload starts with.
    public static let layoutVersion: UInt8 = 1

    /// The tag and payload bytes to append for `event`.
    public static func encode(_ event: DomainEvent) -> (tag: String, payload: [UInt8]) {
        var writer = ByteWriter(capacity: 96)
        writer.u8(layoutVersion)
        switch event {
        case .instanceCreated(let created):
            writer.i64(created.at)
            writer.string(created.name)
            writer.auth(created.auth)
            writer.optionalString(created.email)
            writer.optionalString(created.phoneNumber)
            writer.blob(created.details)
        case .instanceCredentialsChanged(let changed):
            writer.i64(changed.at)
            writer.u64(changed.generation)
            writer.auth(changed.auth)
        case .instanceDetailsUpdated(let updated):
            writer.i64(updated.at)
            writer.string(updated.name)
            writer.optionalString(updated.email)
            writer.optionalString(updated.phoneNumber)
            writer.blob(updated.details)
        case .instanceDeleted(let deleted):
            writer.i64(deleted.at)
        case .instancePurged(let purged):
            writer.i64(purged.at)
        case .tokenIssued(let issued):
            writer.u64(issued.serial.rawValue)
            writer.hash(issued.hash)
            writer.u8(issued.scope.rawValue)
            writer.u8(issued.refreshable ? 1 : 0)
            writer.i64(issued.issuedAt)
            writer.i64(issued.expiry.rawValue)
            writer.origin(issued.origin)
            writer.optionalString(issued.description)
        case .tokenRevoked(let revoked):
            writer.u64(revoked.serial.rawValue)
            writer.i64(revoked.at)
            writer.u8(revoked.reason.rawValue)
        case .challengeCreated(let created):
            writer.challengeCreated(created)
        case .challengeCodeTransmitted(let transmitted):
            writer.challengeID(transmitted.id)
            writer.tanHash(transmitted.tanHash)
            writer.i64(transmitted.at)
            writer.i64(transmitted.validUntil)
            writer.u8(transmitted.attempts)
        case .challengeAttemptFailed(let failed):
            writer.challengeID(failed.id)
            writer.i64(failed.at)
            writer.u8(failed.attemptsLeft)
        case .challengeSolved(let solved):
            writer.challengeID(solved.id)
            writer.i64(solved.at)
        case .challengeConsumed(let consumed):
            writer.challengeID(consumed.id)
            writer.i64(consumed.at)
            writer.u8(consumed.operation.rawValue)
        case .challengeExpired(let expired):
            writer.challengeID(expired.id)
            writer.i64(expired.at)
        case .instanceLoginsBlocked(let blocked):
            writer.i64(blocked.at)
            writer.i64(blocked.until)
        case .instanceLoginsUnblocked(let unblocked):
            writer.i64(unblocked.at)
        case .backendCredentialSet(let set):
            writer.i64(set.at)
            for byte in set.fingerprint.bytes { writer.u8(byte) }
        case .backendCredentialRemoved(let removed):
            writer.i64(removed.at)
        case .merchantInstanceChanged(let changed):
            writer.i64(changed.at)
            writer.u8(changed.action.rawValue)
            writer.i64(changed.status)
        case .instanceAddressValidated(let validated):
            writer.i64(validated.at)
            writer.u8(validated.channel.rawValue)
            writer.string(validated.address)
            if let challenge = validated.challenge {
                writer.u8(1)
                writer.challengeID(challenge)
            } else {
                writer.u8(0)
            }
        }
        return (event.tag.rawValue, writer.bytes)
    }

    /// Reads the event stored under `tag` from `payload`.
    ///
    /// - Throws: ``EventDecodingError`` for an unknown tag, an unknown layout version, or
    ///   malformed bytes (truncated, out-of-domain values, invalid UTF-8, trailing bytes).
    ///   Never traps and never reads outside `payload`.
    public static func decode(tag: String, payload: UnsafeRawBufferPointer)
        throws(EventDecodingError)
        -> DomainEvent
    {
        let known =
            tag.utf8.withContiguousStorageIfAvailable {
                EventTag(bytes: UnsafeRawBufferPointer($0))
            }
            ?? EventTag(rawValue: tag)
        guard let known else { throw unknownTag(tag.utf8) }
        return try decode(tag: known, payload: payload)
    }

    /// Reads the event whose stored tag is `tagBytes` (ASCII, as the log keeps it) from
    /// `payload`: the start-up fold's path, which builds no `String` for the tag.
    ///
    /// - Throws: what ``decode(tag:payload:)-(String,_)`` throws.
    public static func decode(tagBytes: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer)
        throws(EventDecodingError)
        -> DomainEvent
    {
        guard let known = EventTag(bytes: tagBytes) else { throw unknownTag(tagBytes) }
        return try decode(tag: known, payload: payload)
    }

    /// Reads the event stored under `tag` from `payload`; see ``decode(tag:payload:)-(String,_)``.
    ///
    /// Allocates nothing but the strings and byte arrays the event holds (and, on failure,
    /// the error's strings).
    public static func decode(tag: EventTag, payload: UnsafeRawBufferPointer)
        throws(EventDecodingError)
        -> DomainEvent
    {
        do throws(ByteReader.Failure) {
            var reader = ByteReader(payload)
            try reader.version(layoutVersion)
            let event = try decodeFields(of: tag, from: &reader)
            try reader.finish()
            return event
        } catch {
            throw EventDecodingError(tag: tag, failure: error)
        }
    }

    /// Convenience for payloads held in an array.
    public static func decode(tag: String, payload: [UInt8]) throws(EventDecodingError)
        -> DomainEvent
    {
        let result = payload.withUnsafeBytes { bytes in
            Result { () throws(EventDecodingError) in try decode(tag: tag, payload: bytes) }
        }
        return try result.get()
    }

    private static func decodeFields(of tag: EventTag, from reader: inout ByteReader)
        throws(ByteReader.Failure) -> DomainEvent
    {
        switch tag {
        case .tokenIssued:
            return .tokenIssued(try decodeTokenIssued(&reader))
        case .tokenRevoked:
            let serial = try reader.serial("serial")
            let at = try reader.i64("at")
            guard let reason = RevocationReason(rawValue: try reader.u8("reason")) else {
                throw reader.failure(.invalidValue, "reason")
            }
            return .tokenRevoked(TokenRevoked(serial: serial, at: at, reason: reason))
        case .instanceCreated:
            return .instanceCreated(
                InstanceCreated(
                    at: try reader.i64("at"), name: try reader.string("name"),
                    auth: try reader.auth(),
                    email: try reader.optionalString("email"),
                    phoneNumber: try reader.optionalString("phoneNumber"),
                    details: try reader.blob("details")))
        case .instanceCredentialsChanged:
            let at = try reader.i64("at")
            let generation = try reader.u64("generation")
            return .instanceCredentialsChanged(
                InstanceCredentialsChanged(at: at, auth: try reader.auth(), generation: generation))
        case .instanceDetailsUpdated:
            return .instanceDetailsUpdated(
                InstanceDetailsUpdated(
                    at: try reader.i64("at"), name: try reader.string("name"),
                    email: try reader.optionalString("email"),
                    phoneNumber: try reader.optionalString("phoneNumber"),
                    details: try reader.blob("details")))
        case .instanceDeleted:
            return .instanceDeleted(InstanceDeleted(at: try reader.i64("at")))
        case .instancePurged:
            return .instancePurged(InstancePurged(at: try reader.i64("at")))
        default:
            return try decodeChallengeFields(of: tag, from: &reader)
        }
    }

    private static func decodeChallengeFields(of tag: EventTag, from reader: inout ByteReader)
        throws(ByteReader.Failure) -> DomainEvent
    {
        switch tag {
        case .challengeCreated:
            return .challengeCreated(try reader.challengeCreated())
        case .challengeCodeTransmitted:
            return .challengeCodeTransmitted(
                ChallengeCodeTransmitted(
                    id: try reader.challengeID("id"), tanHash: try reader.tanHash("tanHash"),
                    at: try reader.i64("at"), validUntil: try reader.i64("validUntil"),
                    attempts: try reader.u8("attempts")))
        case .challengeAttemptFailed:
            return .challengeAttemptFailed(
                ChallengeAttemptFailed(
                    id: try reader.challengeID("id"), at: try reader.i64("at"),
                    attemptsLeft: try reader.u8("attemptsLeft")))
        case .challengeSolved:
            return .challengeSolved(
                ChallengeSolved(id: try reader.challengeID("id"), at: try reader.i64("at")))
        case .challengeConsumed:
            return .challengeConsumed(
                ChallengeConsumed(
                    id: try reader.challengeID("id"), at: try reader.i64("at"),
                    operation: try reader.operation("operation")))
        case .challengeExpired:
            return .challengeExpired(
                ChallengeExpired(id: try reader.challengeID("id"), at: try reader.i64("at")))
        case .instanceLoginsBlocked:
            return .instanceLoginsBlocked(
                InstanceLoginsBlocked(at: try reader.i64("at"), until: try reader.i64("until")))
        case .instanceLoginsUnblocked:
            return .instanceLoginsUnblocked(InstanceLoginsUnblocked(at: try reader.i64("at")))
        case .backendCredentialSet:
            let at = try reader.i64("at")
            return .backendCredentialSet(
                BackendCredentialSet(at: at, fingerprint: try reader.fingerprint("fingerprint")))
        case .backendCredentialRemoved:
            return .backendCredentialRemoved(BackendCredentialRemoved(at: try reader.i64("at")))
        case .merchantInstanceChanged:
            let at = try reader.i64("at")
            let action = try reader.merchantAction("action")
            return .merchantInstanceChanged(
                MerchantInstanceChanged(at: at, action: action, status: try reader.i64("status")))
        case .instanceAddressValidated:
            let at = try reader.i64("at")
            let channel = try reader.channel("channel")
            let address = try reader.string("address")
            let challenge = try reader.bool("challenge") ? try reader.challengeID("challenge") : nil
            return .instanceAddressValidated(
                InstanceAddressValidated(
                    at: at, channel: channel, address: address, challenge: challenge))
        case .instanceCreated, .instanceCredentialsChanged, .instanceDetailsUpdated,
            .instanceDeleted, .instancePurged, .tokenIssued, .tokenRevoked:
            preconditionFailure("decoded by decodeFields")
        }
    }

    private static func decodeTokenIssued(_ reader: inout ByteReader) throws(ByteReader.Failure)
        -> TokenIssued
    {
        let serial = try reader.serial("serial")
        let hash = try reader.hash("hash")
        let scope = try reader.scope("scope")
        let flags = try reader.u8("flags")
        guard flags & ~1 == 0 else { throw reader.failure(.invalidValue, "flags") }
        let issuedAt = try reader.i64("issuedAt")
        let expiry = TokenExpiry(rawValue: try reader.i64("expiry"))
        let origin = try reader.origin()
        let description = try reader.optionalString("description")
        return TokenIssued(
            serial: serial, hash: hash, scope: scope, refreshable: flags & 1 == 1,
            issuedAt: issuedAt, expiry: expiry, description: description, origin: origin)
    }

    /// The error for a tag this build does not know; shows at most 64 bytes of it.
    private static func unknownTag(_ tag: some Collection<UInt8>) -> EventDecodingError {
        EventDecodingError(
            tag: String(validating: tag.prefix(64), as: UTF8.self) ?? "(not UTF-8)", field: "tag",
            offset: 0, reason: .unknownTag)
    }
}
