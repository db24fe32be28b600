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
    /// What `GET /config` says about the currency.
    public let publicConfiguration: PublicConfiguration
    /// The merchant backend's `/config`, when there is one (spec §9).
    let merchantConfig = MerchantConfigCache()
    let logger: Logger

    public init(
        engine: TokenEngine, clock: any LogClock, throttle: LoginThrottle = LoginThrottle(),
        trustedProxies: TrustedProxies = .none, metrics: MerchantMetrics = MerchantMetrics(),
        publicConfiguration: PublicConfiguration = PublicConfiguration(), logger: Logger
    ) {
        self.engine = engine
        self.clock = clock
        self.throttle = throttle
        self.trustedProxies = trustedProxies
        self.metrics = metrics
        self.publicConfiguration = publicConfiguration
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
            (.get, "/config", false, { _, _, _ in await self.config() }),
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
            (.patch, "/management/instances/{instance}", false, updateManagedInstance),
            (.delete, "/management/instances/{instance}", false, deleteManagedInstance),
            (.post, "/management/instances/{instance}/auth", false, changeManagedCredentials),
            (.post, "/challenge/{challenge}", true, transmitCode),
            (.post, "/challenge/{challenge}/confirm", true, confirmCode),
            (.get, "/audit/tree-head", false, auditTreeHead),
            (.get, "/audit/proof", false, auditProof),
            (.get, "/audit/consistency", false, auditConsistency),
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

    /// `/a/{b}` → `/a/:b`; a last segment `{rest*}` (RFC 6570's explode: every segment
    /// that follows) → `**`.
    static func routerPath(_ openAPIPath: String) -> String {
        openAPIPath.split(separator: "/", omittingEmptySubsequences: false).map { part -> String in
            if part.hasPrefix("{") && part.hasSuffix("*}") { return "**" }
            return part.hasPrefix("{") && part.hasSuffix("}")
                ? ":" + part.dropFirst().dropLast() : String(part)
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
        if let principal = try authenticateNow(
            presented, instance: instance, client: client(request, context),
            allowBasic: allowBasic)
        {
            return principal
        }
        return try await authenticatePassword(
            presented, instance: instance, client: client(request, context),
            allowBasic: allowBasic)
    }

    /// The part of ``authenticate(_:_:instance:allowBasic:)`` that hashes a password: admitted
    /// by the login throttle first, then verified in `client`'s share of the hashing queue.
    /// - Throws: as ``authenticate(_:_:instance:allowBasic:)``.
    func authenticatePassword(
        _ presented: PresentedCredential, instance: InstanceID, client: IPAddress,
        allowBasic: Bool = false
    ) async throws -> Principal {
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

    /// The part of ``authenticate(_:_:instance:allowBasic:)`` that never waits: the answer
    /// for no credential and for a login token (looked up, through the throttle), `nil` for a
    /// password, which is hashed only after the throttle admitted it.
    /// - Throws: as ``authenticate(_:_:instance:allowBasic:)``.
    func authenticateNow(
        _ presented: PresentedCredential, instance: InstanceID,
        client: @autoclosure () -> IPAddress, allowBasic: Bool = false
    ) throws -> Principal? {
        switch presented.check {
        case .nothing:
            return try engine.authenticateNow(presented, instance: instance, allowBasic: allowBasic)
        case .tokenLookup:
            if let wait = throttle.wait(
                instance: instance.rawValue, client: client(), now: clock.nowMicroseconds()),
                !engine.presentsLiveLoginToken(presented, instance: instance)
            {
                throw TalerError.throttled(retryAfter: wait)
            }
            do {
                return try engine.authenticateNow(
                    presented, instance: instance, allowBasic: allowBasic)
            } catch {
                if error.code == .merchantGenericUnauthorized {
                    throttle.recordFailure(
                        instance: instance.rawValue, client: client(), now: clock.nowMicroseconds())
                }
                throw error
            }
        case .passwordHash:
            return nil
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

    static func noContent(noStore: Bool = false) -> Response {
        var headers: HTTPFields = [:]
        if noStore { headers[.cacheControl] = "no-store" }
        return Response(status: .noContent, headers: headers)
    }
}
