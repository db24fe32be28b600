/// Record that the operator set the instance's backend credential (spec §9), by its
/// fingerprint. Setting the fingerprint it already has produces no event.
public struct SetBackendCredential: Hashable, Sendable {
    public var fingerprint: BackendCredentialFingerprint

    public init(fingerprint: BackendCredentialFingerprint) { self.fingerprint = fingerprint }
}

/// Record that the operator removed the instance's backend credential. Removing one that is
/// not set produces no event.
public struct RemoveBackendCredential: Hashable, Sendable {
    public init() {}
}
