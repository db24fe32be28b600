/// Where a login token stands at a given instant.
///
/// The lifecycle is issued → revoked, stored; expiry is not an event but a pure function of
/// the instant asked about, so the status at any past instant can be recomputed.
public enum TokenStatus: Hashable, Sendable {
    case valid
    case expired
    case revoked
}
