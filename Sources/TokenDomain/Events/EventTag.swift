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

    /// Every tag this module writes and reads, for the log's FORMAT.md and for checks that
    /// a log holds nothing else.
    public static let allTags: [String] = allCases.map(\.rawValue)

    /// The tag whose stored bytes are exactly `bytes` (ASCII, case-sensitive), or `nil`.
    ///
    /// For the log reader's hot path: builds no `String` and allocates nothing; picks the
    /// candidate by length (one byte decides between the two 19-byte tags), then compares
    /// the bytes.
    public init?(bytes: UnsafeRawBufferPointer) {
        let candidate: EventTag
        switch bytes.count {
        case 15: candidate = .tokenIssued
        case 16: candidate = .tokenRevoked
        case 18: candidate = .instancePurged
        case 19: candidate = bytes[9] == UInt8(ascii: "c") ? .instanceCreated : .instanceDeleted
        case 27: candidate = .instanceDetailsUpdated
        case 31: candidate = .instanceCredentialsChanged
        default: return nil
        }
        let expected = candidate.staticName
        guard
            bytes.elementsEqual(
                UnsafeRawBufferPointer(
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
        }
    }
}
