import EventLog
import TokenDomain

/// Why the engine did not do what was asked: a Taler error code (which fixes the HTTP
/// status) and a hint that is safe to send to the client and to log.
///
/// Built only from rejections, log errors and parameter names; a password, a token or a
/// token hash never reaches one.
public struct EngineError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: TalerErrorCode
    public var hint: String
    /// The request parameter at fault, for 400s.
    public var parameter: String?
    /// The domain's reason, when the error is a rejection (for tests and logs).
    public var rejection: Rejection?
    /// Set when the work was refused for load, not for what was asked: seconds after which a
    /// retry may succeed. The HTTP layer answers 429 with `Retry-After` (503 when
    /// ``storeUnavailable``).
    public var retryAfter: Int?
    /// Set when the event log's store could not be reached (a database down or restarting):
    /// nothing was decided against it, or a commit's outcome is unknown. The HTTP layer
    /// answers 503 with `Retry-After`; the request can be repeated once the store is back.
    public var storeUnavailable = false
    /// Set when the merchant backend refused a change Tallystick was making on both sides
    /// (spec §9): the client is answered with the merchant's status and code, and ``hint``.
    public var merchantAnswer: MerchantAnswer?

    /// The merchant's status and Taler error code, passed on as they came.
    public struct MerchantAnswer: Equatable, Sendable {
        public var status: Int
        public var code: Int
    }

    public init(
        code: TalerErrorCode, hint: String, parameter: String? = nil, rejection: Rejection? = nil
    ) {
        self.code = code
        self.hint = hint
        self.parameter = parameter
        self.rejection = rejection
    }

    /// The HTTP status: the merchant's when passing on its answer, 503 while the store is
    /// unavailable, 429 when refused for load, else the one that goes with ``code``.
    public var httpStatus: Int {
        if let merchantAnswer { return merchantAnswer.status }
        if storeUnavailable { return 503 }
        return retryAfter == nil ? code.httpStatus : 429
    }

    public var description: String {
        if let merchantAnswer { return "\(merchantAnswer.code) (the merchant's): \(hint)" }
        return "\(code.code) \(code.name): \(hint)"
    }

    static func rejected(_ rejection: Rejection) -> EngineError {
        EngineError(
            code: rejection.errorCode, hint: rejection.hint, parameter: rejection.parameter,
            rejection: rejection)
    }

    static func malformed(_ parameter: String, _ hint: String) -> EngineError {
        EngineError(code: .genericParameterMalformed, hint: hint, parameter: parameter)
    }

    /// The one mapping from log failures to Taler codes.
    static func storage(_ error: any Error) -> EngineError {
        guard let logError = error as? EventLogError else {
            return EngineError(code: .genericInternalInvariantFailure, hint: "internal error")
        }
        switch logError {
        case .diskFull:
            return EngineError(code: .genericDBCommitFailed, hint: "the event log's disk is full")
        case .mapFullBeyondMaximum:
            return EngineError(
                code: .genericDBCommitFailed,
                hint: "the event log reached its configured maximum size")
        case .corruptedRecord:
            return EngineError(code: .genericDBFetchFailed, hint: "the event log is damaged")
        case .closed:
            return EngineError(code: .genericDBCommitFailed, hint: "the server is shutting down")
        case .unavailable:
            var error = EngineError(
                code: .genericDBCommitFailed,
                hint: "the event log's database is unavailable; retry later")
            error.storeUnavailable = true
            error.retryAfter = 1
            return error
        default:
            return EngineError(
                code: .genericDBCommitFailed, hint: "the event log refused the write")
        }
    }

    static let unauthorized = EngineError.rejected(.unauthorized(.tokenUnknown))

    /// Another server kept changing the instance first: the command was decided again every
    /// time and lost every round (several servers minting on one instance at once). Nothing
    /// was written. Taler's code for "always a conflicting transaction, even after retrying"
    /// (55, with its 500), which Taler's clients retry.
    static let contended = EngineError(
        code: .genericDBSoftFailure,
        hint: "the instance is being changed through another server; retry")

    /// The password-hashing queue, or the requester's share of it, is full: nothing was
    /// hashed or checked, so the answer says nothing about the password. Code 2015 like the
    /// login throttle's 429.
    public static let busy: EngineError = {
        var error = EngineError(
            code: .merchantGenericUnauthorized,
            hint: "too many password checks are waiting; retry later")
        error.retryAfter = 1
        return error
    }()
}
