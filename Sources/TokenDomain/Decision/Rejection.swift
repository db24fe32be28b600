/// Why `decide` refused a command. Never holds a secret: token hashes are not echoed,
/// passwords never reach the domain.
public enum Rejection: Error, Hashable, Sendable, CustomStringConvertible {
    /// No such instance (or purged).
    case instanceUnknown
    /// The instance is deleted and not purged.
    case instanceDeleted
    /// The presented credential does not authenticate the request.
    case unauthorized(UnauthorizedReason)
    /// The credential lacks these permissions (for refreshing: `token-refresh`, or the
    /// permissions of the requested scope the presenting token does not have).
    case permissionInsufficient(missing: PermissionSet)
    /// A request field is out of range; the payload is the wire parameter name.
    case malformedParameter(String)
    /// `DeleteToken` of a serial that is unknown, expired or already revoked.
    case tokenUnknown(TokenSerial)
    /// `CreateInstance` of an existing id with different data.
    case instanceAlreadyExists
    /// `CreateInstance` of an id whose instance is deleted but not purged.
    case purgeRequired
    /// `CreateInstance` with a malformed password hash.
    case badInstanceAuth
    /// `ChangeCredentials` with a malformed password hash.
    case badCredentialsChange
    /// The engine offered a token hash the instance already has (a broken random source).
    case duplicateTokenHash
    /// No challenge with this id in this instance (another instance's ids are unknown
    /// here), or one whose solve expiry has passed: expired challenges are unknown to the
    /// challenge endpoints (404).
    case challengeUnknown(ChallengeID)
    /// A TAN was requested or confirmed for a challenge already solved (or consumed).
    case challengeSolved(ChallengeID)
    /// A TAN was requested before the retransmission interval since the last one passed.
    case challengeTooEarly(ChallengeID, earliestRetransmission: Int64)
    /// A wrong TAN; `retryCounter` confirmations are left with the current TAN. Comes with
    /// the `challenge-attempt-failed` event to append (see ``Decision``).
    case challengeFailed(ChallengeID, retryCounter: UInt8)
    /// No TAN to compare against: none sent yet, its validity ended, or its attempts are
    /// used up. A new TAN must be requested.
    case challengeTooManyAttempts(ChallengeID)
    /// Password logins of the instance are blocked until the instant (µs) after too many
    /// failed token-issue confirmations.
    case loginsBlocked(until: Int64)
    /// Two-factor authentication applies but the instance has no address for any channel
    /// the operator has a helper for.
    case mfaMissing
    /// The challenges of a repeated protected request do not allow the operation.
    case challengesNotUsable(ChallengeRefusal)
    /// The engine offered a challenge id the instance already has (a broken random source).
    case duplicateChallengeID
    /// An `email` or `phone_number` that fails ``ContactAddress``'s rules (spec §10.3).
    case addressUnusable(TANChannel)
    /// An event `decide` produced does not fold into the state it was decided on: a bug,
    /// answered as an internal error and never appended.
    case decidedEventDoesNotFold
    /// `{"method":"external"}` while the operator does not allow it (spec §10.2): on
    /// creation (code 2601) or as a credential change (code 2602).
    case externalAuthNotAllowed(onCreation: Bool)

    /// Why a credential was refused; for logs and tests: the client gets one answer (401).
    public enum UnauthorizedReason: Hashable, Sendable {
        case tokenUnknown
        case tokenExpired
        case tokenRevoked
        /// The password was checked against a credential generation that is no longer
        /// current.
        case credentialsChanged
    }

    /// Why the challenges of a repeated request were refused; for logs and tests: the
    /// client gets one answer (403, code 2031).
    public enum ChallengeRefusal: Hashable, Sendable {
        /// The request named no challenge.
        case noChallenges
        /// The challenge is not solved yet.
        case notSolved(ChallengeID)
        /// The challenge was already used.
        case alreadyConsumed(ChallengeID)
        /// The challenge's solve expiry passed.
        case expired(ChallengeID)
        /// The challenge protects another operation.
        case otherOperation(ChallengeID)
        /// The request body differs from the one the challenge was made for.
        case bodyChanged(ChallengeID)
        /// The ids belong to different groups (different `202` answers).
        case mixedGroups
        /// The group needs every challenge (`combi_and`) and this one was not given.
        case groupIncomplete(missing: ChallengeID)
        /// A new address's challenge was made before the instance's current addresses
        /// protected it, and they do now: the change must start again at them.
        case currentAddressesNotAsked(ChallengeID)
        /// No consumed challenge went to the new address for this channel.
        case addressNotProven(TANChannel)
    }

    /// The Taler error for this rejection: the one mapping from rejections to codes.
    public var errorCode: TalerErrorCode {
        switch self {
        case .instanceUnknown: .merchantGenericInstanceUnknown
        case .instanceDeleted: .merchantGenericInstanceDeleted
        case .unauthorized: .merchantGenericUnauthorized
        case .permissionInsufficient: .genericTokenPermissionInsufficient
        case .malformedParameter: .genericParameterMalformed
        case .tokenUnknown: .merchantGenericAccessTokenUnknown
        case .instanceAlreadyExists: .merchantPrivatePostInstancesAlreadyExists
        case .purgeRequired: .merchantPrivatePostInstancesPurgeRequired
        case .badInstanceAuth: .merchantPrivatePostInstancesBadAuth
        case .badCredentialsChange: .merchantPrivatePostInstanceAuthBadAuth
        case .duplicateTokenHash: .genericInternalInvariantFailure
        case .challengeUnknown: .merchantTANChallengeUnknown
        case .challengeSolved: .merchantTANChallengeSolved
        case .challengeTooEarly: .merchantTANTooEarly
        case .challengeFailed: .merchantTANChallengeFailed
        case .challengeTooManyAttempts: .merchantTANTooManyAttempts
        case .loginsBlocked: .merchantMFAForbidden
        case .mfaMissing, .challengesNotUsable: .merchantGenericMFAMissing
        case .duplicateChallengeID, .decidedEventDoesNotFold: .genericInternalInvariantFailure
        case .addressUnusable: .merchantTANAddressUnusable
        case .externalAuthNotAllowed(let onCreation):
            onCreation
                ? .merchantPrivatePostInstancesBadAuth : .merchantPrivatePostInstanceAuthBadAuth
        }
    }

    /// A human hint for the error body; safe to send (no secrets, no token hashes).
    public var hint: String {
        switch self {
        case .instanceUnknown: "unknown instance"
        case .instanceDeleted: "instance deleted"
        case .unauthorized: "unauthorized"
        case .permissionInsufficient(let missing): "missing permissions: \(missing)"
        case .malformedParameter(let name): "malformed parameter: \(name)"
        case .tokenUnknown(let serial): "no valid token with serial \(serial)"
        case .instanceAlreadyExists: "an instance with this id exists with different data"
        case .purgeRequired: "the instance was deleted and must be purged first"
        case .badInstanceAuth, .badCredentialsChange: "malformed auth configuration"
        case .duplicateTokenHash: "token hash collision"
        case .challengeUnknown(let id): "unknown or expired challenge \(id)"
        case .challengeSolved(let id): "challenge \(id) is already solved"
        case .challengeTooEarly(let id, _): "too early to send another code for challenge \(id)"
        case .challengeFailed(let id, let left):
            "wrong code for challenge \(id); \(left) attempts left"
        case .challengeTooManyAttempts(let id):
            "no attempts left for challenge \(id); request a new code"
        case .loginsBlocked: "logins blocked after too many failed challenges"
        case .mfaMissing: "two-factor authentication required but no usable address"
        case .challengesNotUsable(let refusal): "challenges do not allow this request: \(refusal)"
        case .duplicateChallengeID: "challenge id collision"
        case .decidedEventDoesNotFold: "internal error: a decided event does not fold"
        case .addressUnusable(let channel):
            channel == .email
                ? "unusable e-mail address (an addr-spec of at most 254 bytes, no spaces, no leading -)"
                : "unusable phone number (E.164: + and 7 to 15 digits)"
        case .externalAuthNotAllowed:
            "the external auth method is disabled on this server (allow-external-auth)"
        }
    }

    /// The request parameter at fault, for 400s: the field a client must change.
    public var parameter: String? {
        switch self {
        case .malformedParameter(let name): name
        case .addressUnusable(let channel): channel == .email ? "email" : "phone_number"
        case .externalAuthNotAllowed: "auth"
        default: nil
        }
    }

    /// The answer's `retry_counter` for a wrong TAN (``challengeFailed(_:retryCounter:)``),
    /// else `nil`.
    public var retryCounter: UInt8? {
        if case .challengeFailed(_, let retryCounter) = self { return retryCounter }
        return nil
    }

    public var description: String { "\(errorCode): \(hint)" }
}
