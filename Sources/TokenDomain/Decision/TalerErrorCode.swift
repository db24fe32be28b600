/// A Taler error code (GANA registry number) with its name and the HTTP status the
/// merchant backend sends it with (spec §7).
///
/// This is the one table of numbers: correcting a code, name or status is a one-line change
/// in ``entry``. The raw value is the number on the wire.
public enum TalerErrorCode: Int, CaseIterable, Sendable, CustomStringConvertible {
    case genericInvalidResponse = 10
    case genericTimeout = 11
    case genericConfigurationInvalid = 14
    case genericUnexpectedRequestError = 15
    case genericTokenPermissionInsufficient = 16
    case genericMethodInvalid = 20
    case genericEndpointUnknown = 21
    case genericJSONInvalid = 22
    case genericHTTPHeadersMalformed = 23
    case genericParameterMissing = 25
    case genericParameterMalformed = 26
    case genericUploadExceedsLimit = 32
    case genericDBStartFailed = 51
    case genericDBStoreFailed = 52
    case genericDBFetchFailed = 53
    case genericDBCommitFailed = 54
    case genericDBSoftFailure = 55
    case genericInternalInvariantFailure = 60
    case genericFeatureNotImplemented = 76
    case merchantGenericInstanceUnknown = 2000
    case merchantGenericUnauthorized = 2015
    case merchantGenericInstanceDeleted = 2016
    case merchantGenericFeatureNotAvailable = 2030
    case merchantGenericMFAMissing = 2031
    case merchantGenericAccessTokenUnknown = 2042
    case merchantTANChallengeFailed = 2125
    case merchantTANChallengeUnknown = 2126
    case merchantTANTooManyAttempts = 2127
    case merchantTANMFAHelperExecFailed = 2128
    case merchantTANChallengeSolved = 2129
    case merchantTANTooEarly = 2130
    case merchantMFAForbidden = 2131
    case merchantTANAddressUnusable = 2132
    case merchantTANAddressUnreachable = 2133
    case merchantTANHelperMisconfigured = 2134
    case merchantPrivatePostInstancesAlreadyExists = 2600
    case merchantPrivatePostInstancesBadAuth = 2601
    case merchantPrivatePostInstanceAuthBadAuth = 2602
    case merchantPrivatePostInstancesPurgeRequired = 2603
    case merchantPrivatePostInstanceAuthBadOldPassword = 2604

    /// The registry name and the HTTP status: the table.
    private var entry: (name: String, httpStatus: Int) {
        switch self {
        // 10, 11, 14 and 15 are client-side codes in the registry (HTTP status 0): Tallystick
        // is the merchant backend's client here, and answers its own client with a gateway
        // status when the merchant could not be asked (spec §9, instances on both sides).
        case .genericInvalidResponse: ("GENERIC_INVALID_RESPONSE", 502)
        case .genericTimeout: ("GENERIC_TIMEOUT", 504)
        case .genericConfigurationInvalid: ("GENERIC_CONFIGURATION_INVALID", 500)
        case .genericUnexpectedRequestError: ("GENERIC_UNEXPECTED_REQUEST_ERROR", 502)
        case .genericTokenPermissionInsufficient: ("GENERIC_TOKEN_PERMISSION_INSUFFICIENT", 403)
        case .genericMethodInvalid: ("GENERIC_METHOD_INVALID", 405)
        case .genericEndpointUnknown: ("GENERIC_ENDPOINT_UNKNOWN", 404)
        case .genericJSONInvalid: ("GENERIC_JSON_INVALID", 400)
        case .genericHTTPHeadersMalformed: ("GENERIC_HTTP_HEADERS_MALFORMED", 400)
        case .genericParameterMissing: ("GENERIC_PARAMETER_MISSING", 400)
        case .genericParameterMalformed: ("GENERIC_PARAMETER_MALFORMED", 400)
        case .genericUploadExceedsLimit: ("GENERIC_UPLOAD_EXCEEDS_LIMIT", 413)
        case .genericDBStartFailed: ("GENERIC_DB_START_FAILED", 500)
        case .genericDBStoreFailed: ("GENERIC_DB_STORE_FAILED", 500)
        case .genericDBFetchFailed: ("GENERIC_DB_FETCH_FAILED", 500)
        case .genericDBCommitFailed: ("GENERIC_DB_COMMIT_FAILED", 500)
        case .genericDBSoftFailure: ("GENERIC_DB_SOFT_FAILURE", 500)
        case .genericInternalInvariantFailure: ("GENERIC_INTERNAL_INVARIANT_FAILURE", 500)
        case .genericFeatureNotImplemented: ("GENERIC_FEATURE_NOT_IMPLEMENTED", 501)
        case .merchantGenericInstanceUnknown: ("MERCHANT_GENERIC_INSTANCE_UNKNOWN", 404)
        case .merchantGenericUnauthorized: ("MERCHANT_GENERIC_UNAUTHORIZED", 401)
        case .merchantGenericInstanceDeleted: ("MERCHANT_GENERIC_INSTANCE_DELETED", 404)
        case .merchantGenericFeatureNotAvailable: ("MERCHANT_GENERIC_FEATURE_NOT_AVAILABLE", 501)
        case .merchantGenericMFAMissing: ("MERCHANT_GENERIC_MFA_MISSING", 403)
        case .merchantGenericAccessTokenUnknown: ("MERCHANT_GENERIC_ACCESS_TOKEN_UNKNOWN", 404)
        case .merchantTANChallengeFailed: ("MERCHANT_TAN_CHALLENGE_FAILED", 409)
        case .merchantTANChallengeUnknown: ("MERCHANT_TAN_CHALLENGE_UNKNOWN", 404)
        case .merchantTANTooManyAttempts: ("MERCHANT_TAN_TOO_MANY_ATTEMPTS", 429)
        case .merchantTANMFAHelperExecFailed: ("MERCHANT_TAN_MFA_HELPER_EXEC_FAILED", 502)
        case .merchantTANChallengeSolved: ("MERCHANT_TAN_CHALLENGE_SOLVED", 410)
        case .merchantTANTooEarly: ("MERCHANT_TAN_TOO_EARLY", 429)
        case .merchantMFAForbidden: ("MERCHANT_MFA_FORBIDDEN", 403)
        case .merchantTANAddressUnusable: ("MERCHANT_TAN_ADDRESS_UNUSABLE", 400)
        case .merchantTANAddressUnreachable: ("MERCHANT_TAN_ADDRESS_UNREACHABLE", 503)
        case .merchantTANHelperMisconfigured: ("MERCHANT_TAN_HELPER_MISCONFIGURED", 500)
        case .merchantPrivatePostInstancesAlreadyExists:
            ("MERCHANT_PRIVATE_POST_INSTANCES_ALREADY_EXISTS", 409)
        case .merchantPrivatePostInstancesBadAuth: ("MERCHANT_PRIVATE_POST_INSTANCES_BAD_AUTH", 400)
        case .merchantPrivatePostInstanceAuthBadAuth:
            ("MERCHANT_PRIVATE_POST_INSTANCE_AUTH_BAD_AUTH", 400)
        case .merchantPrivatePostInstancesPurgeRequired:
            ("MERCHANT_PRIVATE_POST_INSTANCES_PURGE_REQUIRED", 409)
        case .merchantPrivatePostInstanceAuthBadOldPassword:
            ("MERCHANT_PRIVATE_POST_INSTANCE_AUTH_BAD_OLD_PASSWORD", 401)
        }
    }

    /// The number on the wire (`"code"`).
    public var code: Int { rawValue }
    /// The registry name, e.g. `MERCHANT_GENERIC_INSTANCE_UNKNOWN`.
    public var name: String { entry.name }
    /// The HTTP status to answer with.
    public var httpStatus: Int { entry.httpStatus }

    public var description: String { "\(name) (\(rawValue))" }
}
