import Hummingbird
import TokenDomain
import TokenEngine

/// The token endpoints (spec §5): mint, revoke the presented token, list, delete by serial.
extension MerchantAPI {
    /// `POST [/instances/$ID]/private/token`: with Basic or the instance's password behind
    /// the two-factor gate (`202`), with a refreshable token never challenged.
    func mintToken(_ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID)
        async throws -> Response
    {
        let bytes = try await body(request)
        let principal = try await authenticate(
            request, context, instance: instance, allowBasic: true)
        let wanted = try LoginTokenRequest(bytes)
        let guarded = try await engine.issueToken(
            instance: instance, by: principal, scope: wanted.scope, duration: wanted.duration,
            description: wanted.description,
            twoFactor: try Self.twoFactor(request, body: bytes))
        switch guarded {
        case .challenged(let challenges):
            return challenges.response(status: .accepted, noStore: true)
        case .performed(let issued):
            metrics.recordTokenIssued()
            return LoginTokenSuccessResponse(issued: issued).response(noStore: true)
        }
    }

    /// `DELETE [/instances/$ID]/private/token`: revokes the presented login token.
    func revokePresentedToken(
        _ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID
    ) async throws -> Response {
        let principal = try await authenticate(request, context, instance: instance)
        try await engine.revokePresentedToken(instance: instance, by: principal)
        return Self.noContent(noStore: true)
    }

    /// `GET [/instances/$ID]/private/tokens?limit=&offset=`: 204 when none is valid now.
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
        return TokenInfos(tokens: tokens).response(noStore: true)
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
}
