/// How the engine reaches the merchant backend it keeps in step with (spec §9): one HTTP
/// request, one answer. `MerchantHTTPClient` (MerchantAPI) implements it on async-http-client; the engine
/// decides what each answer means (``MerchantBackend``), so the rules live beside the
/// commands they guard, not in the HTTP client.
public protocol MerchantTransport: Sendable {
    /// Sends `request` and returns the merchant's answer, whatever its status.
    /// - Throws: ``MerchantUnreachable`` when no answer came (refused, reset, timed out).
    func send(_ request: MerchantRequest) async throws(MerchantUnreachable) -> MerchantReply
}

/// One request to the merchant backend.
public struct MerchantRequest: Sendable, Equatable {
    public var method: String
    /// The path and query under the merchant's base URL, e.g. `/management/instances`.
    public var path: String
    /// The whole `Authorization` header value. A secret: never logged.
    public var authorization: String?
    /// A JSON body, or `nil`.
    public var body: [UInt8]?

    public init(method: String, path: String, authorization: String?, body: [UInt8]? = nil) {
        self.method = method
        self.path = path
        self.authorization = authorization
        self.body = body
    }
}

/// The merchant's answer: its status and body.
public struct MerchantReply: Sendable, Equatable {
    public var status: Int
    public var body: [UInt8]

    public init(status: Int, body: [UInt8]) {
        self.status = status
        self.body = body
    }
}

/// The merchant backend did not answer. The description names the address and what went
/// wrong, never a credential.
public struct MerchantUnreachable: Error, Sendable, CustomStringConvertible {
    public var description: String
    /// Whether it was the deadline that ran out (504) rather than the connection (502).
    public var timedOut: Bool

    public init(_ description: String, timedOut: Bool = false) {
        self.description = description
        self.timedOut = timedOut
    }
}
