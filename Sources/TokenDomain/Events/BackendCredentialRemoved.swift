/// `backend-credential-removed.v1`: the operator removed the instance's backend credential;
/// requests to the merchant for it are refused until one is set again.
public struct BackendCredentialRemoved: Hashable, Sendable {
    /// When (µs since the epoch).
    public var at: Int64

    public init(at: Int64) { self.at = at }
}
