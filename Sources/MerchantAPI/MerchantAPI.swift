import EventLog
import Hummingbird
import Logging
import TextCoding
import TokenDomain
import TokenEngine

/// The Taler merchant auth API (spec §1–§7) over a ``TokenEngine``.
///
/// ``buildRouter()`` registers every route of ``routes`` twice where the spec brackets an
/// instance prefix (`/private/token` for `admin`, `/instances/{instance}/private/token` for
/// any instance, `admin` included), answers 405 (code 20) for the other methods on a known
/// path and 404 (code 21) for unknown paths, and wraps everything in ``MerchantMiddleware``
/// (request log line, metrics, Taler error bodies, `HEAD`). ``buildInternalRouter()`` does
/// the same for ``internalRoutes``, which only the internal listener serves (spec §10.7).
public final class MerchantAPI: Sendable {
    /// Bodies above this many bytes get 413 (code 32).
    public static let maximumBodyBytes = 8_192

    public let engine: TokenEngine
    public let clock: any LogClock
    public let throttle: LoginThrottle
    /// Whose forwarded headers name the client (`trusted-proxies`).
    public let trustedProxies: TrustedProxies
    public let metrics: MerchantMetrics
    let logger: Logger

    public init(
        engine: TokenEngine, clock: any LogClock, throttle: LoginThrottle = LoginThrottle(),
        trustedProxies: TrustedProxies = .none, metrics: MerchantMetrics = MerchantMetrics(),
        logger: Logger
    ) {
        self.engine = engine
        self.clock = clock
        self.throttle = throttle
        self.trustedProxies = trustedProxies
        self.metrics = metrics
        self.logger = logger
    }

    /// One served endpoint: method and path in OpenAPI form (`{instance}`, `{serial}`).
    public struct Route: Hashable, Sendable, CustomStringConvertible {
        public var method: HTTPRequest.Method
        public var path: String
        public var description: String { "\(method.rawValue) \(path)" }
    }

    typealias Handler =
        @Sendable (Request, MerchantRequestContext, InstanceID) async throws ->
        Response

    /// A route and its handler. A `prefixed` route is also served under
    /// `/instances/{instance}`.
    typealias Entry = (method: HTTPRequest.Method, path: String, prefixed: Bool, handler: Handler)

    /// Every route of the public listener, with its handler.
    private var table: [Entry] {
        [
            (.get, "/config", false, { _, _, _ in self.config() }),
            (.post, "/private/token", true, mintToken),
            (.delete, "/private/token", true, revokePresentedToken),
            (.get, "/private/tokens", true, listTokens),
            (.delete, "/private/tokens/{serial}", true, deleteToken),
            (.post, "/private/auth", true, changeOwnCredentials),
            (.get, "/private", true, instanceDetails),
            (.patch, "/private", true, updateInstance),
            (.delete, "/private", true, deleteOwnInstance),
            (.post, "/management/instances", false, createInstance),
            (.get, "/management/instances", false, listInstances),
            (.get, "/management/instances/{instance}", false, managedInstanceDetails),
            (.delete, "/management/instances/{instance}", false, deleteManagedInstance),
            (.post, "/management/instances/{instance}/auth", false, changeManagedCredentials),
            (.post, "/challenge/{challenge}", true, transmitCode),
            (.post, "/challenge/{challenge}/confirm", true, confirmCode),
        ]
    }

    /// The routes the public listener serves, in OpenAPI form, sorted by path then method.
    public var routes: [Route] { Self.routes(of: table) }

    /// The routes of `entries`, prefixed forms included, sorted by path then method.
    static func routes(of entries: [Entry]) -> [Route] {
        var out = [Route]()
        for entry in entries {
            out.append(Route(method: entry.method, path: entry.path))
            if entry.prefixed {
                out.append(Route(method: entry.method, path: "/instances/{instance}" + entry.path))
            }
        }
        return out.sorted { ($0.path, $0.method.rawValue) < ($1.path, $1.method.rawValue) }
    }

    /// Methods answered with 405 on a known path when not served there. (`HEAD` is served
    /// wherever `GET` is, see ``MerchantMiddleware``.)
    static let knownMethods: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete, .options]

    /// The public listener's router: every route, 405s for the other methods, the middleware
    /// around all.
    public func buildRouter() -> Router<MerchantRequestContext> { router(for: table) }

    /// A router serving `entries`, 405s for the other methods, the middleware around all.
    func router(for entries: [Entry]) -> Router<MerchantRequestContext> {
        let router = Router(
            context: MerchantRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.add(
            middleware: MerchantMiddleware(
                metrics: metrics,
                knownPaths: Self.routes(of: entries).map { Self.segments($0.path) }))
        var served = [String: Set<HTTPRequest.Method>]()
        for entry in entries {
            var paths = [entry.path]
            if entry.prefixed { paths.append("/instances/{instance}" + entry.path) }
            for path in paths {
                served[path, default: []].insert(entry.method)
                let handler = entry.handler
                router.on(RouterPath(Self.routerPath(path)), method: entry.method) {
                    request, context in
                    let instance = try Self.instance(in: context)
                    return try await handler(request, context, instance)
                }
            }
        }
        for (path, methods) in served.sorted(by: { $0.key < $1.key }) {
            for method in Self.knownMethods where !methods.contains(method) {
                router.on(RouterPath(Self.routerPath(path)), method: method) { _, _ -> Response in
                    throw TalerError.methodInvalid
                }
            }
        }
        return router
    }

    /// The segments of an OpenAPI path, `{name}` kept as a wildcard marker.
    static func segments(_ path: some StringProtocol) -> [Substring] {
        path.split(separator: "/").map { Substring($0) }
    }

    /// Whether `path` is one of `known` (templates' `{name}` segments match any segment).
    static func matches(_ path: String, known: [[Substring]]) -> Bool {
        let parts = segments(path)
        return known.contains { template in
            template.count == parts.count
                && zip(template, parts).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }
    }

    /// `/a/{b}` → `/a/:b`.
    static func routerPath(_ openAPIPath: String) -> String {
        openAPIPath.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix("{") && part.hasSuffix("}") ? ":" + part.dropFirst().dropLast() : part
        }.joined(separator: "/")
    }

    /// The instance of the path: `{instance}`, or `admin` at the root.
    /// - Throws: 404 (2000) for an id that cannot exist.
    static func instance(in context: MerchantRequestContext) throws(TalerError) -> InstanceID {
        guard let raw = context.parameters.get("instance") else { return .admin }
        guard let id = InstanceID(raw) else {
            throw TalerError(.merchantGenericInstanceUnknown, hint: "unknown instance")
        }
        return id
    }
}

// MARK: - Request helpers

extension MerchantAPI {
    /// Checks the request's credentials for `instance` (Basic only when `allowBasic`),
    /// through the login throttle (spec §10.4).
    ///
    /// A password is admitted by the throttle before the engine hashes it and counted as a
    /// failure until the check ends; the hash then waits in the client's share of the hashing
    /// queue. A refusal for a full queue counts as a failure too: it is decided before any
    /// hash, but the credential cache answers a recently verified password without the queue,
    /// so uncounted refusals would let a guess be tested against the cache for free while the
    /// queue is full. A login token is only looked up, so its failures are counted after the
    /// lookup, and a token that is valid now passes even while its client is held back (one
    /// device retrying a revoked token must not lock out the others).
    /// - Throws: 429 while throttled or while the hashing queue is full; 401; 404 (2000/2016).
    func authenticate(
        _ request: Request, _ context: MerchantRequestContext, instance: InstanceID,
        allowBasic: Bool = false
    ) async throws -> Principal {
        guard let presented = AuthorizationHeader.parse(request.headers[.authorization]) else {
            throw TalerError.unauthorized
        }
        switch presented.check {
        case .nothing:
            return try await engine.authenticate(
                presented, instance: instance, allowBasic: allowBasic)
        case .tokenLookup:
            if let wait = throttle.wait(
                instance: instance.rawValue, client: client(request, context),
                now: clock.nowMicroseconds()),
                !engine.presentsLiveLoginToken(presented, instance: instance)
            {
                throw TalerError.throttled(retryAfter: wait)
            }
            do {
                return try await engine.authenticate(
                    presented, instance: instance, allowBasic: allowBasic)
            } catch {
                if error.code == .merchantGenericUnauthorized {
                    throttle.recordFailure(
                        instance: instance.rawValue, client: client(request, context),
                        now: clock.nowMicroseconds())
                }
                throw error
            }
        case .passwordHash:
            let client = client(request, context)
            let attempt: LoginThrottle.Attempt
            switch throttle.admit(
                instance: instance.rawValue, client: client, now: clock.nowMicroseconds())
            {
            case .wait(let seconds): throw TalerError.throttled(retryAfter: seconds)
            case .admitted(let admitted): attempt = admitted
            }
            do {
                let principal = try await engine.authenticate(
                    presented, instance: instance, allowBasic: allowBasic,
                    requester: client.requester)
                throttle.finish(attempt, .succeeded, now: clock.nowMicroseconds())
                return principal
            } catch {
                let counted = error.code == .merchantGenericUnauthorized
                throttle.finish(
                    attempt, counted ? .failed : .abandoned, now: clock.nowMicroseconds())
                throw error
            }
        }
    }

    /// The client's address: the peer's, or behind a trusted proxy the one its headers name.
    func client(_ request: Request, _ context: MerchantRequestContext) -> IPAddress {
        trustedProxies.client(of: context.peerAddress, headers: request.headers)
    }

    /// Whose share of the hashing queue a request's password work uses: its client's.
    func requester(_ request: Request, _ context: MerchantRequestContext) -> RequesterKey {
        client(request, context).requester
    }

    /// Authenticates against `admin` for a `/management` call and checks `permission`.
    func authenticateAdmin(
        _ request: Request, _ context: MerchantRequestContext, permission: Permission
    ) async throws {
        let principal = try await authenticate(request, context, instance: .admin)
        guard principal.permissions.contains(permission) else {
            throw TalerError(
                .genericTokenPermissionInsufficient, hint: "missing permissions: \(permission)")
        }
    }

    /// The body, at most ``maximumBodyBytes``.
    func body(_ request: Request) async throws -> [UInt8] {
        var request = request
        let buffer = try await request.collectBody(upTo: Self.maximumBodyBytes)
        return Array(buffer.readableBytesView)
    }

    static func json(
        _ writer: JSONWriter, status: HTTPResponse.Status = .ok, noStore: Bool = false
    ) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if noStore { headers[.cacheControl] = "no-store" }
        return Response(
            status: status, headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: writer.bytes)))
    }

    static func noContent(noStore: Bool = false) -> Response {
        var headers: HTTPFields = [:]
        if noStore { headers[.cacheControl] = "no-store" }
        return Response(status: .noContent, headers: headers)
    }
}

// MARK: - Handlers

extension MerchantAPI {
    /// `GET /config`: public, ignores any `Authorization` header.
    func config() -> Response {
        var w = JSONWriter()
        w.beginObject()
        w.key("name")
        w.string("taler-merchant")
        w.key("version")
        w.string("21:0:2")
        w.key("implementation")
        w.string("urn:net:taler:specs:taler-merchant:tallystick")
        w.key("have_self_provisioning")
        w.bool(false)
        w.key("mandatory_tan_channels")
        w.beginArray()
        if engine.configuration.twoFactor.mandatory {
            for channel in engine.configuration.twoFactor.channels.sorted() {
                w.string(channel.wireName)
            }
        }
        w.endArray()
        w.endObject()
        return Self.json(w)
    }

    /// `POST [/instances/$ID]/private/token`.
    func mintToken(_ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID)
        async throws -> Response
    {
        let bytes = try await body(request)
        let principal = try await authenticate(
            request, context, instance: instance, allowBasic: true)
        let wanted = try WireTypes.LoginTokenRequest(try WireTypes.object(bytes))
        let guarded = try await engine.issueToken(
            instance: instance, by: principal, scope: wanted.scope, duration: wanted.duration,
            description: wanted.description,
            twoFactor: try Self.twoFactor(request, body: bytes))
        let issued: IssuedToken
        switch guarded {
        case .challenged(let challenges): return Self.accepted(challenges)
        case .performed(let token): issued = token
        }
        metrics.recordTokenIssued()
        var w = JSONWriter()
        w.beginObject()
        w.key("access_token")
        w.string(issued.accessToken)
        w.key("token")
        w.string(issued.accessToken)
        w.key("scope")
        w.string(issued.scope.wireName)
        w.key("refreshable")
        w.bool(issued.scope.refreshable)
        w.key("expiration")
        WireTypes.writeTimestamp(&w, issued.expiry)
        w.endObject()
        return Self.json(w, noStore: true)
    }

    /// `DELETE [/instances/$ID]/private/token`: revokes the presented login token.
    func revokePresentedToken(
        _ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID
    ) async throws -> Response {
        let principal = try await authenticate(request, context, instance: instance)
        try await engine.revokePresentedToken(instance: instance, by: principal)
        return Self.noContent(noStore: true)
    }

    /// `GET [/instances/$ID]/private/tokens?limit=&offset=`.
    func listTokens(_ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID)
        async throws -> Response
    {
        let principal = try await authenticate(request, context, instance: instance)
        var limit = -20
        if let text = request.uri.queryParameters["limit"] {
            guard let value = Int(text), value != 0 else {
                throw TalerError.malformed("limit", "limit must be a non-zero integer")
            }
            limit = value
        }
        var offset: UInt64?
        if let text = request.uri.queryParameters["offset"] {
            guard let value = UInt64(text) else {
                throw TalerError.malformed("offset", "offset must be a non-negative integer")
            }
            offset = value
        }
        let tokens = try engine.listTokens(
            instance: instance, by: principal, limit: limit, offset: offset)
        guard !tokens.isEmpty else { return Self.noContent(noStore: true) }
        var w = JSONWriter()
        w.beginObject()
        w.key("tokens")
        w.beginArray()
        for token in tokens {
            w.beginObject()
            w.key("creation_time")
            WireTypes.writeTimestamp(&w, micros: token.createdAt)
            w.key("expiration")
            WireTypes.writeTimestamp(&w, token.expiry)
            w.key("scope")
            w.string(token.tokenScope.wireName)
            w.key("refreshable")
            w.bool(token.refreshable)
            if let description = token.description {
                w.key("description")
                w.string(description)
            }
            w.key("serial")
            w.integer(token.serial.rawValue)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return Self.json(w, noStore: true)
    }

    /// `DELETE [/instances/$ID]/private/tokens/$SERIAL`.
    func deleteToken(_ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID)
        async throws -> Response
    {
        let principal = try await authenticate(request, context, instance: instance)
        guard let text = context.parameters.get("serial"), let serial = UInt64(text) else {
            throw TalerError.malformed("serial", "the serial must be a non-negative integer")
        }
        try await engine.deleteToken(instance: instance, serial: TokenSerial(serial), by: principal)
        return Self.noContent()
    }

    /// `POST [/instances/$ID]/private/auth`.
    func changeOwnCredentials(
        _ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID
    ) async throws -> Response {
        let bytes = try await body(request)
        let principal = try await authenticate(request, context, instance: instance)
        let auth = try WireTypes.authConfiguration(
            try WireTypes.object(bytes), badAuth: .merchantPrivatePostInstanceAuthBadAuth)
        return Self.answer(
            try await engine.changeCredentials(
                instance: instance, to: auth, by: principal,
                twoFactor: try Self.twoFactor(request, body: bytes),
                requester: requester(request, context)))
    }

    /// `POST /management/instances/$ID/auth`.
    func changeManagedCredentials(
        _ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID
    ) async throws -> Response {
        let bytes = try await body(request)
        try await authenticateAdmin(request, context, permission: .instancesAuthWrite)
        let auth = try WireTypes.authConfiguration(
            try WireTypes.object(bytes), badAuth: .merchantPrivatePostInstanceAuthBadAuth)
        return Self.answer(
            try await engine.changeCredentials(
                instance: instance, to: auth, by: nil,
                twoFactor: try Self.twoFactor(request, body: bytes),
                requester: requester(request, context)))
    }

    /// `POST /management/instances`.
    func createInstance(_ request: Request, _ context: MerchantRequestContext, _: InstanceID)
        async throws -> Response
    {
        let bytes = try await body(request)
        try await authenticateAdmin(request, context, permission: .instancesWrite)
        let body = try WireTypes.object(bytes)
        let rawID = try WireTypes.requiredString(body, "id")
        guard let id = InstanceID(rawID) else {
            throw TalerError.malformed(
                "id",
                "the id must match ^[A-Za-z0-9][A-Za-z0-9_.@-]+$ and have at most "
                    + "\(InstanceID.maximumLength) bytes")
        }
        let name = try WireTypes.requiredString(body, "name")
        let auth = try WireTypes.authConfiguration(
            body["auth"], badAuth: .merchantPrivatePostInstancesBadAuth)
        let new = TokenEngine.NewInstance(
            id: id, name: name, auth: auth, email: try WireTypes.optionalString(body, "email"),
            phoneNumber: try WireTypes.optionalString(body, "phone_number"),
            details: WireTypes.encode(WireTypes.businessFields(of: body)))
        try await engine.createInstance(new, requester: requester(request, context))
        return Self.noContent()
    }

    /// `GET /management/instances`.
    func listInstances(_ request: Request, _ context: MerchantRequestContext, _: InstanceID)
        async throws -> Response
    {
        try await authenticateAdmin(request, context, permission: .instancesRead)
        var w = JSONWriter()
        w.beginObject()
        w.key("instances")
        w.beginArray()
        for id in engine.instanceIDs() {
            guard let state = engine.instance(id) else { continue }
            w.beginObject()
            w.key("id")
            w.string(id.rawValue)
            w.key("name")
            w.string(state.name)
            w.key("deleted")
            w.bool(!state.isActive)
            w.key("auth")
            w.beginObject()
            w.key("method")
            w.string(state.auth.method)
            w.endObject()
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return Self.json(w)
    }

    /// `GET [/instances/$ID]/private`.
    func instanceDetails(
        _ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID
    ) async throws -> Response {
        let principal = try await authenticate(request, context, instance: instance)
        guard principal.permissions.contains(.instancesRead) else {
            throw TalerError(
                .genericTokenPermissionInsufficient, hint: "missing permissions: instances-read")
        }
        return try details(of: instance)
    }

    /// `GET /management/instances/$ID`.
    func managedInstanceDetails(
        _ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID
    ) async throws -> Response {
        try await authenticateAdmin(request, context, permission: .instancesRead)
        return try details(of: instance)
    }

    private func details(of instance: InstanceID) throws(TalerError) -> Response {
        guard let state = engine.instance(instance) else {
            throw TalerError(.merchantGenericInstanceUnknown, hint: "unknown instance")
        }
        guard state.isActive else {
            throw TalerError(.merchantGenericInstanceDeleted, hint: "instance deleted")
        }
        var w = JSONWriter()
        w.beginObject()
        w.key("id")
        w.string(state.id.rawValue)
        w.key("name")
        w.string(state.name)
        w.key("auth")
        w.beginObject()
        w.key("method")
        w.string(state.auth.method)
        w.endObject()
        if let email = state.email {
            w.key("email")
            w.string(email)
        }
        w.key("email_validated")
        w.bool(state.emailValidated)
        if let phone = state.phoneNumber {
            w.key("phone_number")
            w.string(phone)
        }
        w.key("phone_validated")
        w.bool(state.phoneValidated)
        for member in WireTypes.decodeDetails(state.details)
        where !WireTypes.namedInstanceFields.contains(member.key)
            && !["email_validated", "phone_validated"].contains(member.key)
        {
            w.key(member.key)
            w.value(member.value)
        }
        w.endObject()
        return Self.json(w)
    }

    /// `PATCH [/instances/$ID]/private`: sets the fields present (JSON `null` = absent =
    /// unchanged; `""` removes an address); business fields are merged member by member into
    /// the stored ones. A change of `email` or `phone_number` is a protected operation
    /// (spec §10.1): `202` with challenges, then the repeated request with
    /// `Taler-Challenge-Ids`.
    func updateInstance(
        _ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID
    ) async throws -> Response {
        let bytes = try await body(request)
        let principal = try await authenticate(request, context, instance: instance)
        let body = try WireTypes.object(bytes)
        var update = UpdateInstanceDetails()
        if let name = try WireTypes.optionalString(body, "name") { update.name = .set(name) }
        if let email = try WireTypes.optionalString(body, "email") { update.email = .set(email) }
        if let phone = try WireTypes.optionalString(body, "phone_number") {
            update.phoneNumber = .set(phone)
        }
        let changed = WireTypes.businessFields(of: body).filter {
            if case .null = $0.value { return false }
            return true
        }
        if !changed.isEmpty, let state = engine.instance(instance) {
            var merged = WireTypes.decodeDetails(state.details)
            for member in changed {
                if let at = merged.firstIndex(where: { $0.key == member.key }) {
                    merged[at].value = member.value
                } else {
                    merged.append(member)
                }
            }
            update.details = .set(WireTypes.encode(merged))
        }
        return Self.answer(
            try await engine.updateInstance(
                instance: instance, update, by: principal,
                twoFactor: try Self.twoFactor(request, body: bytes)))
    }

    /// `DELETE [/instances/$ID]/private[?purge=yes]`.
    func deleteOwnInstance(
        _ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID
    ) async throws -> Response {
        let principal = try await authenticate(request, context, instance: instance)
        let purge = Self.purge(request)
        return Self.answer(
            try await engine.deleteInstance(
                instance: instance, purge: purge, by: principal,
                twoFactor: try Self.twoFactor(request, body: Self.deletionBody(purge: purge))))
    }

    /// `DELETE /management/instances/$ID[?purge=yes]`.
    func deleteManagedInstance(
        _ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID
    ) async throws -> Response {
        try await authenticateAdmin(request, context, permission: .instancesWrite)
        let purge = Self.purge(request)
        return Self.answer(
            try await engine.deleteInstance(
                instance: instance, purge: purge, by: nil,
                twoFactor: try Self.twoFactor(request, body: Self.deletionBody(purge: purge))))
    }

    static func purge(_ request: Request) -> Bool {
        request.uri.queryParameters["purge"].map { $0.lowercased() == "yes" } ?? false
    }
}
