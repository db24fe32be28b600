import HTTPTypes
import Hummingbird
import TokenDomain
import TokenEngine

/// The forward-auth endpoints (spec §9), on the internal listener only (§10.7): a reverse
/// proxy asks whether a request may go on to the merchant, and gets the backend credential
/// of the request's instance to put in its place.
///
/// - `GET /authz/auth-request` (nginx `auth_request`): `X-Original-Method`, `X-Original-URI`;
/// - `GET /authz/forward-auth` (Traefik ForwardAuth, Caddy `forward_auth`):
///   `X-Forwarded-Method`, `X-Forwarded-Uri`;
/// - `ANY /authz/ext-authz/*` (Envoy `ext_authz`): the request's own method and the path
///   after the prefix.
///
/// The client's headers (`Authorization` included) reach these endpoints unchanged. The
/// check reads the committed projection: no flush, no password hash for a login token, and a
/// revocation answered to a client is seen by the very next check. Answers: 200 (with
/// `X-Taler-Backend-Authorization` when the merchant needs a credential), 401, 403 — and 400
/// for a request the proxy could not have meant (missing or contradictory headers, a path
/// ``ForwardRequest`` refuses). Never another status: nginx turns anything but 2xx, 401 and
/// 403 into its own 500. Every answer is `Cache-Control: no-store`; every refusal carries
/// its Taler body twice, as the body and as header `X-Tallystick-Error` (nginx drops an
/// `auth_request` answer's body but can pass a header's value on).
extension MerchantAPI {
    static let originalMethod = HTTPField.Name("X-Original-Method")!
    static let originalURI = HTTPField.Name("X-Original-URI")!
    static let forwardedMethod = HTTPField.Name("X-Forwarded-Method")!
    static let forwardedURI = HTTPField.Name("X-Forwarded-Uri")!
    static let backendAuthorization = HTTPField.Name("X-Taler-Backend-Authorization")!
    static let tallystickInstance = HTTPField.Name("X-Tallystick-Instance")!
    static let tallystickSerial = HTTPField.Name("X-Tallystick-Token-Serial")!
    static let tallystickScope = HTTPField.Name("X-Tallystick-Scope")!
    /// Where Envoy's requests are mounted; the route is `/authz/ext-authz/{path*}`.
    static let extAuthzPrefix = "/authz/ext-authz"

    /// `GET /authz/auth-request` and `GET /authz/forward-auth`: the proxied method and target
    /// from `convention`'s headers.
    func forwardCheck(
        _ convention: ForwardConvention, _ request: Request, _ context: MerchantRequestContext
    ) async throws -> Response {
        try await Self.refusingInHeader {
            let (method, target) = try convention.question(request.headers)
            return try await forwardAuth(method: method, target: target, request, context)
        }
    }

    /// `ANY /authz/ext-authz/*`: the method and the path (with its query) after the prefix.
    func extAuthz(_ request: Request, _ context: MerchantRequestContext, _: InstanceID)
        async throws -> Response
    {
        var target = String(request.uri.path.dropFirst(Self.extAuthzPrefix.count))
        if target.isEmpty { target = "/" }
        if let query = request.uri.query { target += "?" + query }
        return try await Self.refusingInHeader {
            try await forwardAuth(
                method: request.method.rawValue, target: target, request, context)
        }
    }

    /// The one value of header `name`.
    /// - Throws: 400 (26) when it is missing, empty or given twice (contradictory).
    static func header(_ fields: HTTPFields, _ name: HTTPField.Name) throws(TalerError) -> String {
        let values = fields[values: name]
        guard values.count == 1, let value = values.first, !value.isEmpty else {
            throw TalerError.malformed(
                name.rawName,
                values.count > 1
                    ? "\(name.rawName) given \(values.count) times" : "missing \(name.rawName)")
        }
        return value
    }

    /// `answer`, with a refusal's Taler body also in header `X-Tallystick-Error`
    /// (``TalerError/bodyInHeader``): every answer of these endpoints comes through here.
    static func refusingInHeader(_ answer: () async throws -> Response) async throws -> Response {
        do {
            return try await answer()
        } catch {
            throw forwardRefusal(error)
        }
    }

    /// A check's refusal: `error` as a Taler error whose body is also sent as a header.
    static func forwardRefusal(_ error: any Error) -> TalerError {
        var refused = TalerError.from(error)
        refused.bodyInHeader = true
        return refused
    }

    /// Decides `method` to `target` for the request's own credentials (spec §9): at once
    /// (``forwardAuthNow(method:target:authorization:client:)``) unless the credential is a
    /// password, which is hashed here after the login throttle admitted it.
    func forwardAuth(
        method: String, target: String, _ request: Request, _ context: MerchantRequestContext
    ) async throws -> Response {
        switch try forwardAuthNow(
            method: method, target: target, authorization: request.headers[.authorization],
            client: client(request, context))
        {
        case .decided(let headers):
            return Response(status: .ok, headers: headers)
        case .password(let forwarded, let presented):
            let outcome: Result<Principal, any Error>
            do {
                outcome = .success(
                    try await authenticatePassword(
                        presented, instance: forwarded.instance,
                        client: client(request, context)))
            } catch {
                outcome = .failure(error)
            }
            let (credential, principal) = try forwardCredential(
                outcome, presented: presented, instance: forwarded.instance)
            return Response(
                status: .ok,
                headers: try forwardDecision(
                    forwarded, instance: .active, credential: credential, principal: principal))
        }
    }

    /// A check as far as it goes without waiting.
    enum ForwardCheck {
        /// Decided: the headers of the 200 for the proxy.
        case decided(HTTPFields)
        /// `forwarded` is of an active instance's guarded endpoint and `presented` is a
        /// password, to verify through the login throttle and the hashing queue.
        case password(ForwardRequest, PresentedCredential)
    }

    /// The check without waiting: decided, or stopped at a password to hash
    /// (``forwardAuth(method:target:_:_:)`` does that). The internal listener answers most
    /// checks with it on the connection's own thread (``ForwardAuthFastPath``).
    /// - Throws: the refusal (400, 401, 403) as a ``TalerError``.
    func forwardAuthNow(
        method: String, target: String, authorization: String?,
        client: @autoclosure () -> IPAddress
    ) throws -> ForwardCheck {
        let forwarded = try Self.forwardRequest(method: method, target: target)
        var principal: Principal?
        var credential = ForwardCredential.absent
        var lifecycle: InstanceLifecycle?
        if forwarded.needsCredential {
            let instance = forwarded.instance
            lifecycle = engine.withInstance(instance) { $0.lifecycle }
            if lifecycle == .active {
                let presented = AuthorizationHeader.parse(authorization)
                switch presented {
                case nil, .none?:
                    // An instance with no password needs none (spec §3).
                    if case .external? = engine.withInstance(instance, { $0.auth }) {
                        credential = .valid(instance: instance, permissions: .everyPermission)
                    }
                case let presented?:
                    let outcome: Result<Principal, any Error>
                    do {
                        guard
                            let now = try authenticateNow(
                                presented, instance: instance, client: client())
                        else { return .password(forwarded, presented) }
                        outcome = .success(now)
                    } catch {
                        outcome = .failure(error)
                    }
                    (credential, principal) = try forwardCredential(
                        outcome, presented: presented, instance: instance)
                }
            }
        }
        return .decided(
            try forwardDecision(
                forwarded, instance: lifecycle, credential: credential, principal: principal))
    }

    /// The forwarded request, from the proxy's method and target.
    /// - Throws: 400 for a method or path the proxy could not have meant.
    static func forwardRequest(method: String, target: String) throws -> ForwardRequest {
        guard let method = RequestMethod(method) else {
            throw TalerError.malformed("method", "not an HTTP method")
        }
        do {
            return try ForwardRequest(method: method, target: target)
        } catch {
            throw TalerError(error.errorCode, hint: error.description, parameter: "uri")
        }
    }

    /// The decision on what the credential turned out to be, as the 200's headers.
    /// - Throws: the refusal.
    private func forwardDecision(
        _ forwarded: ForwardRequest, instance lifecycle: InstanceLifecycle?,
        credential: ForwardCredential, principal: Principal?
    ) throws -> HTTPFields {
        switch ForwardAuth.decide(forwarded, instance: lifecycle, credential: credential) {
        case .pass:
            return Self.forwardHeaders([:])
        case .allow(let instance, _):
            guard let secret = engine.backendCredential(for: instance) else {
                throw TalerError(
                    .merchantGenericFeatureNotAvailable,
                    hint:
                        "no backend credential is set for instance \(instance) "
                        + "(the operator runs: tallystick backend-credential set \(instance))",
                    status: .forbidden)
            }
            var headers: HTTPFields = [
                Self.backendAuthorization: "Bearer secret-token:\(secret)",
                Self.tallystickInstance: instance.rawValue,
            ]
            if case .token(let hash)? = principal?.credential,
                let token = engine.withInstance(instance, { $0.token(hash: hash) }) ?? nil
            {
                headers[Self.tallystickSerial] = String(token.serial.rawValue)
                headers[Self.tallystickScope] = token.tokenScope.wireName
            }
            return Self.forwardHeaders(headers)
        case .deny(let denial):
            throw TalerError(
                denial.errorCode, hint: denial.hint,
                status: HTTPResponse.Status(code: denial.httpStatus))
        }
    }

    /// What the authentication of a presented credential means for the check: when it does
    /// not belong to `instance`, the instance a login token does belong to (403 instead of
    /// 401: the client sent the right kind of credential to the wrong place).
    /// - Throws: a throttled credential as 401 with when to try again (a proxy passes only
    ///   401 and 403 on); any other error but a 401 as it is.
    private func forwardCredential(
        _ outcome: Result<Principal, any Error>, presented: PresentedCredential?,
        instance: InstanceID
    ) throws -> (ForwardCredential, Principal?) {
        switch outcome {
        case .success(let principal):
            return (.valid(instance: instance, permissions: principal.permissions), principal)
        case .failure(let error):
            let refused = TalerError.from(error)
            switch refused.status {
            case .unauthorized:
                if let presented, let owner = engine.instanceHoldingToken(presented) {
                    return (.valid(instance: owner, permissions: []), nil)
                }
                return (.invalid, nil)
            case .tooManyRequests:
                throw TalerError(
                    .merchantGenericUnauthorized, hint: refused.hint, status: .unauthorized,
                    retryAfter: refused.retryAfter)
            default:
                throw error
            }
        }
    }

    /// The headers of a 200 for the proxy: `headers` and `Cache-Control: no-store`.
    static func forwardHeaders(_ headers: HTTPFields) -> HTTPFields {
        var headers = headers
        headers[.cacheControl] = "no-store"
        return headers
    }
}

/// How a reverse proxy names the request it asks about (spec §9), by the check's path; the
/// internal router's routes and ``ForwardAuthFastPath`` both read them from here.
struct ForwardConvention: Sendable {
    let route: String
    let method: HTTPField.Name
    let target: HTTPField.Name

    /// nginx `auth_request`.
    static let authRequest = ForwardConvention(
        route: "/authz/auth-request", method: MerchantAPI.originalMethod,
        target: MerchantAPI.originalURI)
    /// Traefik ForwardAuth, Caddy `forward_auth`.
    static let forwardAuth = ForwardConvention(
        route: "/authz/forward-auth", method: MerchantAPI.forwardedMethod,
        target: MerchantAPI.forwardedURI)
    static let all = [authRequest, forwardAuth]

    /// The proxied method and target.
    /// - Throws: 400 (26) when either header is missing, empty or given twice.
    func question(_ fields: HTTPFields) throws(TalerError) -> (method: String, target: String) {
        (try MerchantAPI.header(fields, method), try MerchantAPI.header(fields, target))
    }
}
