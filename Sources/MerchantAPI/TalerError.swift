import HTTPTypes
import Hummingbird
import NIOHTTP1
import TextCoding
import TokenDomain
import TokenEngine

/// An error answered with a Taler `ErrorDetail` body: `{"code":N,"hint":"..."}` plus
/// `parameter` when one request parameter is at fault.
///
/// This file is the one place where failures become HTTP: engine errors, body and header
/// problems, Hummingbird's own errors (unknown path, oversized body) and anything unexpected.
/// Hints are built from fixed texts and parameter names only; no secret ever reaches one.
public struct TalerError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: TalerErrorCode
    public var hint: String
    public var parameter: String?
    /// The HTTP status; the code's own unless a rule says otherwise (throttling: 429; the
    /// store unavailable: 503).
    public var status: HTTPResponse.Status
    /// Seconds to wait, sent as `Retry-After`.
    public var retryAfter: Int?
    /// Confirmations left after a wrong TAN (409, code 2125), sent as `retry_counter`.
    public var retryCounter: Int?
    /// Whether the body is also sent as header `X-Tallystick-Error`: the forward-auth answers
    /// (spec §9), whose body a proxy drops (nginx `auth_request`) but whose headers it can
    /// pass on, so that the client gets the Taler body without the check being asked twice.
    /// Such an answer is `Cache-Control: no-store`, as the forward-auth allows are.
    public var bodyInHeader = false
    /// The merchant backend's own code, sent instead of ``code``'s number when Tallystick
    /// passes on the merchant's refusal of a change made on both sides (spec §9).
    public var merchantCode: Int?

    public init(
        _ code: TalerErrorCode, hint: String, parameter: String? = nil,
        status: HTTPResponse.Status? = nil, retryAfter: Int? = nil
    ) {
        self.code = code
        self.hint = hint
        self.parameter = parameter
        self.status = status ?? HTTPResponse.Status(code: code.httpStatus)
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status.code) \(code.code) \(code.name): \(hint)" }

    /// 400, code 26, naming the parameter.
    static func malformed(_ parameter: String, _ hint: String? = nil) -> TalerError {
        TalerError(
            .genericParameterMalformed, hint: hint ?? "malformed parameter: \(parameter)",
            parameter: parameter)
    }

    /// 400, code 25, naming the parameter.
    static func missing(_ parameter: String) -> TalerError {
        TalerError(
            .genericParameterMissing, hint: "missing parameter: \(parameter)",
            parameter: parameter)
    }

    /// A request the HTTP parser refused (400, code 23).
    static let malformedRequest = TalerError(
        .genericHTTPHeadersMalformed, hint: "malformed HTTP request")
    static let jsonInvalid = TalerError(.genericJSONInvalid, hint: "the body is not valid JSON")
    static let endpointUnknown = TalerError(.genericEndpointUnknown, hint: "unknown endpoint")
    static let methodInvalid = TalerError(
        .genericMethodInvalid, hint: "method not allowed on this endpoint")
    static let uploadTooLarge = TalerError(
        .genericUploadExceedsLimit, hint: "the request body is too large")
    static let unauthorized = TalerError(.merchantGenericUnauthorized, hint: "unauthorized")

    /// 429 (code 2015) from the login throttle: decided before any password is looked at.
    static func throttled(retryAfter: Int) -> TalerError {
        TalerError(
            .merchantGenericUnauthorized, hint: "too many failed login attempts; retry later",
            status: .tooManyRequests, retryAfter: retryAfter)
    }

    /// The Taler error for any error a handler threw: the one mapping.
    static func from(_ error: any Error) -> TalerError {
        switch error {
        case let taler as TalerError:
            return taler
        case let engine as EngineError:
            var taler = TalerError(
                engine.code, hint: engine.hint, parameter: engine.parameter,
                status: HTTPResponse.Status(code: engine.httpStatus),
                retryAfter: engine.retryAfter)
            taler.retryCounter = engine.rejection?.retryCounter.map(Int.init)
            taler.merchantCode = engine.merchantAnswer?.code
            return taler
        case is ConnectionDeadlines.BodyTimedOut:
            // Nobody hears this answer (the connection is closed); it names the request's fate
            // in the log line and the metrics.
            return TalerError(
                .genericHTTPHeadersMalformed, hint: "the request body did not arrive in time",
                status: .requestTimeout)
        case is HTTPParserError:
            // The body's framing broke while a handler read it (a chunk size that is not hex,
            // a connection closed before Content-Length bytes came): the client's fault.
            return TalerError(.genericHTTPHeadersMalformed, hint: "malformed request body")
        case let http as any HTTPResponseError:
            switch http.status {
            case .notFound: return .endpointUnknown
            case .methodNotAllowed: return .methodInvalid
            case .contentTooLarge: return .uploadTooLarge
            case .badRequest:
                return TalerError(.genericHTTPHeadersMalformed, hint: "malformed request")
            default:
                return TalerError(
                    .genericInternalInvariantFailure, hint: "internal error", status: http.status)
            }
        default:
            return TalerError(.genericInternalInvariantFailure, hint: "internal error")
        }
    }

    static let errorHeader = HTTPField.Name("X-Tallystick-Error")!

    /// The response: JSON body, the status, `Retry-After` when set, on a 401 the
    /// `WWW-Authenticate: Bearer` RFC 9110 asks for (spec §9: the forward-auth 401), and
    /// the body again as `X-Tallystick-Error` (and `Cache-Control: no-store`) when
    /// ``bodyInHeader`` is set.
    func response() -> Response {
        let body = body
        return Response(
            status: status, headers: headers(body: body),
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// The headers of ``response()``, whose body is `body` (``body``).
    func headers(body: [UInt8]) -> HTTPFields {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        if bodyInHeader {
            headers[Self.errorHeader] = JSONWriter.asciiOnly(body)
            headers[.cacheControl] = "no-store"
        }
        return headers
    }

    /// The `ErrorDetail` JSON: `code`, `hint`, and `parameter` and `retry_counter` when set.
    var body: [UInt8] {
        ErrorDetail(
            code: merchantCode ?? code.code, hint: hint, parameter: parameter,
            retryCounter: retryCounter
        ).jsonBytes
    }
}
