/// A request a reverse proxy asks about, judged against ``MerchantEndpoint/table``: the first
/// half of a forward-auth check, before any credential is looked at.
///
/// The HTTP layer builds one from the forwarded method and target, then authenticates the
/// presented credential against ``instance`` only when ``needsCredential`` (a public
/// endpoint ignores even a malformed `Authorization` header, spec §3, and costs no lookup),
/// and hands both to ``ForwardAuth/decide(_:instance:credential:)``.
public struct ForwardRequest: Hashable, Sendable {
    /// The method as forwarded.
    public let method: RequestMethod
    /// The normalised path.
    public let path: MerchantPath
    /// The row covering the request, `nil` when none does.
    public let endpoint: MerchantEndpoint?
    /// What the request needs: its row's access; for a request in no row,
    /// ``MerchantEndpoint/Access/scopeAll`` under `/private` and `/management` (fail closed)
    /// and ``MerchantEndpoint/Access/public`` elsewhere (the merchant gets no credential,
    /// so it answers as it answers anyone).
    public let access: MerchantEndpoint.Access
    /// The instance whose credentials count and whose backend credential the merchant gets:
    /// `admin` for `/management/...` (spec §1), else the path's instance.
    public let instance: InstanceID

    /// Judges `method` to `target` (the request target as forwarded: path and query, not
    /// decoded; see ``MerchantPath/init(requestTarget:)``).
    ///
    /// - Throws: ``MerchantPathError`` when the target cannot be judged without guessing
    ///   (400, code 26).
    public init(method: RequestMethod, target: some StringProtocol) throws(MerchantPathError) {
        try self.init(method: method, path: MerchantPath(requestTarget: target))
    }

    /// Judges `method` to an already normalised `path`.
    public init(method: RequestMethod, path: MerchantPath) {
        self.method = method
        self.path = path
        let endpoint = MerchantEndpoint.row(for: method, path)
        self.endpoint = endpoint
        let area = path.segments.first
        let guarded = area == "private" || area == "management"
        access = endpoint?.access ?? (guarded ? .scopeAll : .public)
        instance = area == "management" ? .admin : path.instance
    }

    /// Who answers the request: its row's server, the merchant for a request in no row.
    public var servedBy: MerchantEndpoint.Server { endpoint?.servedBy ?? .merchant }

    /// Whether the decision looks at a credential: `false` for public endpoints and for
    /// those Tallystick serves itself (which check their own), so the HTTP layer need not
    /// authenticate anything.
    public var needsCredential: Bool { servedBy == .merchant && access != .public }
}
