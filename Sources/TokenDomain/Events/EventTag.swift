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
}
