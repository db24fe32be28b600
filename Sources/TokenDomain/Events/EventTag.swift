/// The stored type tag of each event: explicit and versioned, never derived from a Swift
/// type name.
///
/// A stored format is never edited: a changed payload gets a new tag (`.v2`) and the old
/// tag keeps decoding. The byte layouts are in `EVENTS.md` beside the sources.
public enum EventTag: String, CaseIterable, Sendable {
    case instanceCreated = "instance-created.v1"
    case instanceCredentialsChanged = "instance-credentials-changed.v1"
    case instanceDetailsUpdated = "instance-details-updated.v1"
    case instanceDeleted = "instance-deleted.v1"
    case instancePurged = "instance-purged.v1"
    case tokenIssued = "token-issued.v1"
    case tokenRevoked = "token-revoked.v1"
    case challengeCreated = "challenge-created.v1"
    case challengeCodeTransmitted = "challenge-code-transmitted.v1"
    case challengeAttemptFailed = "challenge-attempt-failed.v1"
    case challengeSolved = "challenge-solved.v1"
    case challengeConsumed = "challenge-consumed.v1"
    case challengeExpired = "challenge-expired.v1"
    case instanceLoginsBlocked = "instance-logins-blocked.v1"
    case instanceLoginsUnblocked = "instance-logins-unblocked.v1"
    case instanceAddressValidated = "instance-address-validated.v1"
    case backendCredentialSet = "backend-credential-set.v1"
    case backendCredentialRemoved = "backend-credential-removed.v1"
    case merchantInstanceChanged = "merchant-instance-changed.v1"

    /// Every tag this module writes and reads, for the log's FORMAT.md and for checks that
    /// a log holds nothing else.
    public static let allTags: [String] = allCases.map(\.rawValue)

    /// The tag whose stored bytes are exactly `bytes` (ASCII, case-sensitive), or `nil`.
    ///
    /// For the log reader's hot path: builds no `String` and allocates nothing; picks the
    /// candidate by length (one byte decides between tags of equal length), then compares
    /// the bytes.
    public init?(bytes: UnsafeRawBufferPointer) {
        let candidate: EventTag
        switch bytes.count {
        case 15: candidate = .tokenIssued
        case 16: candidate = .tokenRevoked
        case 18: candidate = .instancePurged
        case 19:
            if bytes[0] == UInt8(ascii: "c") {
                candidate = .challengeSolved
            } else {
                candidate = bytes[9] == UInt8(ascii: "c") ? .instanceCreated : .instanceDeleted
            }
        case 20: candidate = bytes[10] == UInt8(ascii: "c") ? .challengeCreated : .challengeExpired
        case 21: candidate = .challengeConsumed
        case 26: candidate = .instanceLoginsBlocked
        case 27:
            candidate =
                bytes[0] == UInt8(ascii: "c") ? .challengeAttemptFailed : .instanceDetailsUpdated
        case 28:
            candidate =
                bytes[0] == UInt8(ascii: "m") ? .merchantInstanceChanged : .instanceLoginsUnblocked
        case 25: candidate = .backendCredentialSet
        case 29:
            switch bytes[0] {
            case UInt8(ascii: "c"): candidate = .challengeCodeTransmitted
            case UInt8(ascii: "b"): candidate = .backendCredentialRemoved
            default: candidate = .instanceAddressValidated
            }
        case 31: candidate = .instanceCredentialsChanged
        default: return nil
        }
        let expected = candidate.staticName
        guard
            bytes.hasSameBytes(
                as: UnsafeRawBufferPointer(
                    start: expected.utf8Start, count: expected.utf8CodeUnitCount))
        else { return nil }
        self = candidate
    }

    /// The raw value as a static string, whose bytes can be read without a `String`.
    private var staticName: StaticString {
        switch self {
        case .instanceCreated: "instance-created.v1"
        case .instanceCredentialsChanged: "instance-credentials-changed.v1"
        case .instanceDetailsUpdated: "instance-details-updated.v1"
        case .instanceDeleted: "instance-deleted.v1"
        case .instancePurged: "instance-purged.v1"
        case .tokenIssued: "token-issued.v1"
        case .tokenRevoked: "token-revoked.v1"
        case .challengeCreated: "challenge-created.v1"
        case .challengeCodeTransmitted: "challenge-code-transmitted.v1"
        case .challengeAttemptFailed: "challenge-attempt-failed.v1"
        case .challengeSolved: "challenge-solved.v1"
        case .challengeConsumed: "challenge-consumed.v1"
        case .challengeExpired: "challenge-expired.v1"
        case .instanceLoginsBlocked: "instance-logins-blocked.v1"
        case .instanceLoginsUnblocked: "instance-logins-unblocked.v1"
        case .instanceAddressValidated: "instance-address-validated.v1"
        case .backendCredentialSet: "backend-credential-set.v1"
        case .backendCredentialRemoved: "backend-credential-removed.v1"
        case .merchantInstanceChanged: "merchant-instance-changed.v1"
        }
    }
}
