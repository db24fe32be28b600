import TextCoding
import TokenDomain

/// The decoded payload of each event type as JSON, for `dump` and `explain`.
///
/// Shapes (every time is µs since the Unix epoch; `expiration_us` is `null` for "never"):
/// - `instance-created.v1`: `at_us`, `name`, `auth`, `email`, `phone_number`, `details`
/// - `instance-credentials-changed.v1`: `at_us`, `auth`, `generation`
/// - `instance-details-updated.v1`: `at_us`, `name`, `email`, `phone_number`, `details`
/// - `instance-deleted.v1`, `instance-purged.v1`: `at_us`
/// - `token-issued.v1`: `serial`, `token_hash`, `scope`, `refreshable`, `issued_at_us`,
///   `expiration_us`, `description`, `minted_by`
/// - `token-revoked.v1`: `serial`, `at_us`, `reason` (`self-revoked` | `deleted-by-serial`)
///
/// - `challenge-created.v1`: `challenge_id`, `operation`, `tan_channel`, `address`,
///   `body_hash`, `group`, `combi_and`, `at_us`, `solve_expiration_us`
/// - `challenge-code-transmitted.v1`: `challenge_id`, `at_us`, `valid_until_us`, `attempts`
///   (never the TAN or its hash)
/// - `challenge-attempt-failed.v1`: `challenge_id`, `at_us`, `attempts_left`
/// - `challenge-solved.v1`, `challenge-expired.v1`: `challenge_id`, `at_us`
/// - `challenge-consumed.v1`: `challenge_id`, `at_us`, `operation`
/// - `instance-logins-blocked.v1`: `at_us`, `until_us`; `instance-logins-unblocked.v1`: `at_us`
/// - `backend-credential-set.v1`: `at_us`, `fingerprint` (never the credential);
///   `backend-credential-removed.v1`: `at_us`
/// - `instance-address-validated.v1`: `at_us`, `tan_channel`, `address`, `challenge_id`
///   (`null` when the operator vouched)
///
/// `auth` is `{"method":"external"}` or `{"method":"token","algorithm":...,"log2N":...,
/// "r":...,"p":...}`: never the salt or the derived bytes. `minted_by` is `basic`,
/// `password-bearer` (or no credentials needed) or `token` with `parent_serial`.
enum EventJSON {
    static func object(_ event: DomainEvent) -> String {
        JSONWriter.object { w in
            switch event {
            case .instanceCreated(let e):
                w.number("at_us", e.at)
                w.string("name", e.name)
                w.raw("auth", auth(e.auth))
                w.string("email", e.email)
                w.string("phone_number", e.phoneNumber)
                w.string("details", String(decoding: e.details, as: UTF8.self))
            case .instanceCredentialsChanged(let e):
                w.number("at_us", e.at)
                w.raw("auth", auth(e.auth))
                w.number("generation", e.generation)
            case .instanceDetailsUpdated(let e):
                w.number("at_us", e.at)
                w.string("name", e.name)
                w.string("email", e.email)
                w.string("phone_number", e.phoneNumber)
                w.string("details", String(decoding: e.details, as: UTF8.self))
            case .instanceDeleted(let e):
                w.number("at_us", e.at)
            case .instancePurged(let e):
                w.number("at_us", e.at)
            case .tokenIssued(let e):
                w.number("serial", e.serial.rawValue)
                w.string("token_hash", Hex.encode(e.hash.bytes))
                w.string("scope", e.tokenScope.wireName)
                w.bool("refreshable", e.refreshable)
                w.number("issued_at_us", e.issuedAt)
                w.number("expiration_us", expiration(e.expiry))
                w.string("description", e.description)
                w.raw("minted_by", origin(e.origin))
            case .tokenRevoked(let e):
                w.number("serial", e.serial.rawValue)
                w.number("at_us", e.at)
                w.string("reason", reason(e.reason))
            case .challengeCreated(let e):
                w.string("challenge_id", e.id.rawValue)
                w.string("operation", operationName(e.operation))
                w.string("tan_channel", e.channel.wireName)
                w.string("address", e.address)
                w.string("body_hash", Hex.encode(e.bodyHash.bytes))
                w.string("group", e.group.rawValue)
                w.bool("combi_and", e.combiAnd)
                w.number("at_us", e.at)
                w.number("solve_expiration_us", e.solveExpiry)
            case .challengeCodeTransmitted(let e):
                w.string("challenge_id", e.id.rawValue)
                w.number("at_us", e.at)
                w.number("valid_until_us", e.validUntil)
                w.number("attempts", e.attempts)
            case .challengeAttemptFailed(let e):
                w.string("challenge_id", e.id.rawValue)
                w.number("at_us", e.at)
                w.number("attempts_left", e.attemptsLeft)
            case .challengeSolved(let e):
                w.string("challenge_id", e.id.rawValue)
                w.number("at_us", e.at)
            case .challengeConsumed(let e):
                w.string("challenge_id", e.id.rawValue)
                w.number("at_us", e.at)
                w.string("operation", operationName(e.operation))
            case .challengeExpired(let e):
                w.string("challenge_id", e.id.rawValue)
                w.number("at_us", e.at)
            case .instanceLoginsBlocked(let e):
                w.number("at_us", e.at)
                w.number("until_us", e.until)
            case .instanceLoginsUnblocked(let e):
                w.number("at_us", e.at)
            case .backendCredentialSet(let e):
                w.number("at_us", e.at)
                w.string("fingerprint", e.fingerprint.description)
            case .backendCredentialRemoved(let e):
                w.number("at_us", e.at)
            case .merchantInstanceChanged(let e):
                w.number("at_us", e.at)
                w.string("action", e.action.name)
                w.number("merchant_status", e.status)
            case .instanceAddressValidated(let e):
                w.number("at_us", e.at)
                w.string("tan_channel", e.channel.wireName)
                w.string("address", e.address)
                w.string("challenge_id", e.challenge?.rawValue)
            }
        }
    }

    /// The operation a challenge protects, as dumps show it.
    static func operationName(_ operation: ProtectedOperation) -> String {
        switch operation {
        case .tokenIssue: "token-issue"
        case .credentialChange: "credential-change"
        case .instanceDeletion: "instance-deletion"
        case .addressChange: "address-change"
        case .addressValidation: "address-validation"
        }
    }

    static func auth(_ auth: InstanceAuth) -> String {
        JSONWriter.object { w in
            switch auth {
            case .external:
                w.string("method", "external")
            case .password(let hash):
                w.string("method", "token")
                w.string("algorithm", hash.algorithm)
                w.number("log2N", hash.log2N)
                w.number("r", hash.r)
                w.number("p", hash.p)
            }
        }
    }

    static func origin(_ origin: TokenOrigin) -> String {
        JSONWriter.object { w in
            switch origin {
            case .password(let basic):
                w.string("kind", basic ? "basic" : "password-bearer")
            case .token(let parent):
                w.string("kind", "token")
                w.number("parent_serial", parent.rawValue)
            }
        }
    }

    static func expiration(_ expiry: TokenExpiry) -> Int64? {
        if case .at(let t) = expiry { return t }
        return nil
    }

    static func reason(_ reason: RevocationReason) -> String {
        switch reason {
        case .selfRevoked: "self-revoked"
        case .deletedBySerial: "deleted-by-serial"
        }
    }

    static func status(_ status: TokenStatus) -> String {
        switch status {
        case .valid: "valid"
        case .expired: "expired"
        case .revoked: "revoked"
        }
    }
}
