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

    /// `GET /authz/auth-request`.
    func authRequest(_ request: Request, _ context: MerchantRequestContext, _: InstanceID)
        async throws -> Response
    {
        try await Self.refusingInHeader {
            try await forwardAuth(
                method: Self.header(request, Self.originalMethod),
                target: Self.header(request, Self.originalURI), request, context)
        }
    }

    /// `GET /authz/forward-auth`.
    func forwardAuthRequest(
        _ request: Request, _ context: MerchantRequestContext, _: InstanceID
    ) async throws -> Response {
        try await Self.refusingInHeader {
            try await forwardAuth(
                method: Self.header(request, Self.forwardedMethod),
                target: Self.header(request, Self.forwardedURI), request, context)
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
    static func header(_ request: Request, _ name: HTTPField.Name) throws(TalerError) -> String {
        let values = request.headers[values: name]
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
            var refused = TalerError.from(error)
            refused.bodyInHeader = true
            throw refused
        }
    }

    /// Decides `method` to `target` for the request's own credentials (spec §9).
    func forwardAuth(
        method: String, target: String, _ request: Request, _ context: MerchantRequestContext
    ) async throws -> Response {
        guard let method = RequestMethod(method) else {
            throw TalerError.malformed("method", "not an HTTP method")
        }
        let forwarded: ForwardRequest
        do {
            forwarded = try ForwardRequest(method: method, target: target)
        } catch {
            throw TalerError(error.errorCode, hint: error.description, parameter: "uri")
        }
        var principal: Principal?
        var credential = ForwardCredential.absent
        var lifecycle: InstanceLifecycle?
        if forwarded.needsCredential {
            lifecycle = engine.withInstance(forwarded.instance) { $0.lifecycle }
            if lifecycle == .active {
                (credential, principal) = try await forwardCredential(
                    request, context, instance: forwarded.instance)
            }
        }
        switch ForwardAuth.decide(forwarded, instance: lifecycle, credential: credential) {
        case .pass:
            return Self.forwardAnswer([:])
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
            return Self.forwardAnswer(headers)
        case .deny(let denial):
            throw TalerError(
                denial.errorCode, hint: denial.hint,
                status: HTTPResponse.Status(code: denial.httpStatus))
        }
    }

    /// Authenticates the request's credential against `instance` as the merchant API does
    /// (through the login throttle; a login token by its hash only), and, when it does not
    /// belong to `instance`, finds the instance a login token does belong to (403 instead of
    /// 401: the client sent the right kind of credential to the wrong place).
    private func forwardCredential(
        _ request: Request, _ context: MerchantRequestContext, instance: InstanceID
    ) async throws -> (ForwardCredential, Principal?) {
        let presented = AuthorizationHeader.parse(request.headers[.authorization])
        let nothing: Bool
        switch presented {
        case nil, .none?: nothing = true
        default: nothing = false
        }
        guard let presented, !nothing else {
            // An instance with no password needs none (spec §3).
            if case .external? = engine.withInstance(instance, { $0.auth }) {
                return (.valid(instance: instance, permissions: .everyPermission), nil)
            }
            return (.absent, nil)
        }
        do {
            let principal = try await authenticate(request, context, instance: instance)
            return (.valid(instance: instance, permissions: principal.permissions), principal)
        } catch {
            let refused = TalerError.from(error)
            switch refused.status {
            case .unauthorized:
                if let owner = engine.instanceHoldingToken(presented) {
                    return (.valid(instance: owner, permissions: []), nil)
                }
                return (.invalid, nil)
            case .tooManyRequests:
                // Throttled: refused like a wrong credential, with when to try again (a proxy
                // passes only 401 and 403 on).
                throw TalerError(
                    .merchantGenericUnauthorized, hint: refused.hint, status: .unauthorized,
                    retryAfter: refused.retryAfter)
            default:
                throw error
            }
        }
    }

    /// A 200 for the proxy, with `headers`.
    static func forwardAnswer(_ headers: HTTPFields) -> Response {
        var headers = headers
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers)
    }
}
