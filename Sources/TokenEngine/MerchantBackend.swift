import Crypto
import Foundation
import TextCoding
import TokenDomain

/// The merchant backend Tallystick keeps in step with (spec §9, "Backend credentials and
/// instances on both sides"): what each request to it is, and what each answer means.
///
/// Merchant passwords are never stored: the password of an instance Tallystick created (or
/// rotated) in the merchant is HMAC-SHA-256 under ``passwordKey`` (`merchant.key` in the data
/// directory, `0600`) of the instance id and its stream version at that moment. A retry after
/// a crash computes the same password, so it can prove that a merchant instance it finds was
/// made by the interrupted attempt (it can mint a token with that password) and finish the
/// job, and tell it from someone else's instance of the same id (it cannot).
public struct MerchantBackend: Sendable {
    let transport: any MerchantTransport
    let passwordKey: [UInt8]

    /// What a minted backend token asks the merchant for (spec §9).
    static let backendTokenRequest = Array(
        #"{"scope":"all","duration":{"d_us":"forever"},"description":"tallystick backend credential"}"#
            .utf8)

    public init(transport: any MerchantTransport, passwordKey: [UInt8]) {
        self.transport = transport
        self.passwordKey = passwordKey
    }

    /// The merchant password of `instance` made when its stream was at `version`: 64 hex
    /// digits of HMAC-SHA-256 (256 bits, only Tallystick can compute them).
    func password(for instance: InstanceID, version: UInt64) -> String {
        var message = Array("tallystick merchant password v1\0".utf8)
        message += Array(instance.rawValue.utf8)
        withUnsafeBytes(of: version.bigEndian) { message += $0 }
        let mac = HMAC<SHA256>.authenticationCode(
            for: message, using: SymmetricKey(data: passwordKey))
        return Hex.encode(mac)
    }

    /// `POST /management/instances` with `body`: `204` created, or `409` when the id exists
    /// (possibly made by an interrupted attempt: the caller tries the password).
    /// - Throws: the merchant's own error for any other answer; 502/504 when unreachable.
    func createInstance(_ body: [UInt8], admin: String) async throws(EngineError) -> Int {
        let reply = try await send("POST", "/management/instances", bearer: admin, body: body)
        guard reply.status == 204 || reply.status == 200 || reply.status == 409 else {
            throw Self.refusal(reply, doing: "create the instance")
        }
        return reply.status
    }

    /// Mints the backend token of `instance` with HTTP Basic and `password` (spec §9:
    /// `{"scope":"all","duration":{"d_us":"forever"}}`). Returns its secret, without
    /// `secret-token:`; `nil` when the merchant refused the password (401).
    /// - Throws: the merchant's error for any other answer, a clear one for a `202` (the
    ///   merchant wants its own second factor); 502/504 when unreachable.
    func mintToken(_ instance: InstanceID, password: String) async throws(EngineError)
        -> String?
    {
        let basic = Data("\(instance.rawValue):\(password)".utf8).base64EncodedString()
        let reply = try await send(
            "POST", "/instances/\(instance.rawValue)/private/token",
            authorization: "Basic \(basic)", body: Self.backendTokenRequest)
        switch reply.status {
        case 200: break
        case 401: return nil
        case 202:
            throw EngineError(
                code: .genericUnexpectedRequestError,
                hint:
                    "the merchant backend asked for its own second factor (202) to mint the "
                    + "backend token of \(instance); turn off its mandatory TAN channels, "
                    + "Tallystick runs the challenges")
        default: throw Self.refusal(reply, doing: "mint the backend token")
        }
        guard let json = try? JSONValue.parse(reply.body),
            case .string(var token)? = json["access_token"] ?? json["token"]
        else {
            throw EngineError(
                code: .genericInvalidResponse,
                hint: "the merchant backend's token answer has no access_token")
        }
        if token.hasPrefix(LoginToken.prefix) { token.removeFirst(LoginToken.prefix.count) }
        guard BackendCredentialStore.isUsable(token) else {
            throw EngineError(
                code: .genericInvalidResponse,
                hint: "the merchant backend's access_token is not a usable credential")
        }
        return token
    }

    /// `PATCH /management/instances/$I` with the whole reconfiguration `body`.
    /// - Throws: the merchant's error for anything but `204`/`200`.
    func updateInstance(_ instance: InstanceID, _ body: [UInt8], admin: String)
        async throws(EngineError) -> Int
    {
        let reply = try await send(
            "PATCH", "/management/instances/\(instance.rawValue)", bearer: admin, body: body)
        guard reply.status == 204 || reply.status == 200 else {
            throw Self.refusal(reply, doing: "change the instance")
        }
        return reply.status
    }

    /// `DELETE /management/instances/$I[?purge=yes]`: `204`, or `404` when an earlier,
    /// interrupted attempt already did it (the merchant no longer knows the instance).
    /// - Throws: the merchant's error for any other answer.
    func deleteInstance(_ instance: InstanceID, purge: Bool, admin: String)
        async throws(EngineError) -> Int
    {
        let reply = try await send(
            "DELETE", "/management/instances/\(instance.rawValue)\(purge ? "?purge=yes" : "")",
            bearer: admin)
        guard [200, 204, 404].contains(reply.status) else {
            throw Self.refusal(reply, doing: "delete the instance")
        }
        return reply.status
    }

    /// `POST /instances/$I/private/auth` with `credential` (a backend token of the
    /// instance): its merchant password becomes `password`.
    func changePassword(_ instance: InstanceID, to password: String, credential: String)
        async throws(EngineError) -> Int
    {
        var writer = JSONWriter()
        writer.beginObject()
        writer.string("method", "token")
        writer.string("password", password)
        writer.endObject()
        let reply = try await send(
            "POST", "/instances/\(instance.rawValue)/private/auth", bearer: credential,
            body: writer.bytes)
        guard reply.status == 204 || reply.status == 200 else {
            throw Self.refusal(reply, doing: "change the merchant password")
        }
        return reply.status
    }

    /// `GET /instances/$I/private` with `credential`: the merchant's instance details.
    func instanceDetails(_ instance: InstanceID, credential: String) async throws(EngineError)
        -> JSONValue
    {
        let reply = try await send(
            "GET", "/instances/\(instance.rawValue)/private", bearer: credential)
        guard reply.status == 200 else {
            throw Self.refusal(reply, doing: "read the instance")
        }
        guard let json = try? JSONValue.parse(reply.body), case .object = json else {
            throw EngineError(
                code: .genericInvalidResponse,
                hint: "the merchant backend's instance details are not a JSON object")
        }
        return json
    }

    /// `GET /config`: the merchant's answer as it came.
    public func config() async throws(EngineError) -> [UInt8] {
        let reply = try await send("GET", "/config", authorization: nil)
        guard reply.status == 200 else { throw Self.refusal(reply, doing: "read /config") }
        return reply.body
    }

    private func send(
        _ method: String, _ path: String, bearer: String, body: [UInt8]? = nil
    ) async throws(EngineError) -> MerchantReply {
        try await send(
            method, path, authorization: "Bearer \(LoginToken.prefix)\(bearer)", body: body)
    }

    private func send(
        _ method: String, _ path: String, authorization: String?, body: [UInt8]? = nil
    ) async throws(EngineError) -> MerchantReply {
        do {
            return try await transport.send(
                MerchantRequest(
                    method: method, path: path, authorization: authorization, body: body))
        } catch {
            throw EngineError(
                code: error.timedOut ? .genericTimeout : .genericUnexpectedRequestError,
                hint: "the merchant backend did not answer: \(error.description)")
        }
    }

    /// The merchant's refusal as the client's answer: its status and its Taler error (code
    /// and hint), or, without a Taler body, 502 naming the status.
    static func refusal(_ reply: MerchantReply, doing what: String) -> EngineError {
        guard let json = try? JSONValue.parse(reply.body), let code = json["code"]?.integer,
            (100...599).contains(reply.status)
        else {
            return EngineError(
                code: .genericInvalidResponse,
                hint: "the merchant backend answered \(reply.status) to \(what)")
        }
        var hint = "the merchant backend refused to \(what)"
        if case .string(let text)? = json["hint"] { hint += ": \(text)" }
        var error = EngineError(code: .genericUnexpectedRequestError, hint: hint)
        error.merchantAnswer = EngineError.MerchantAnswer(status: reply.status, code: Int(code))
        return error
    }
}
