/// Why `decide` refused a command. Never holds a secret: token hashes are not echoed,
/// passwords never reach the domain.
public enum Rejection: Error, Hashable, Sendable, CustomStringConvertible {
    /// No such instance (or purged).
    case instanceUnknown
    /// The instance is deleted and not purged.
    case instanceDeleted
    /// The presented credential does not authenticate the request.
    case unauthorized(UnauthorizedReason)
    /// The credential lacks these permissions (for refreshing: `token-refresh`, or the
    /// permissions of the requested scope the presenting token does not have).
    case permissionInsufficient(missing: PermissionSet)
    /// A request field is out of range; the payload is the wire parameter name.
    case malformedParameter(String)
    /// `DeleteToken` of a serial that is unknown, expired or already revoked.
    case tokenUnknown(TokenSerial)
    /// `CreateInstance` of an existing id with different data.
    case instanceAlreadyExists
    /// `CreateInstance` of an id whose instance is deleted but not purged.
    case purgeRequired
    /// `CreateInstance` with a malformed password hash.
    case badInstanceAuth
    /// `ChangeCredentials` with a malformed password hash.
    case badCredentialsChange
    /// The engine offered a token hash the instance already has (a broken random source).
    case duplicateTokenHash

    /// Why a credential was refused; for logs and tests: the client gets one answer (401).
    public enum UnauthorizedReason: Hashable, Sendable {
        case tokenUnknown
        case tokenExpired
        case tokenRevoked
        /// The password was checked against a credential generation that is no longer
        /// current.
        case credentialsChanged
    }

    /// The Taler error for this rejection: the one mapping from rejections to codes.
    public var errorCode: TalerErrorCode {
        switch self {
        case .instanceUnknown: .merchantGenericInstanceUnknown
        case .instanceDeleted: .merchantGenericInstanceDeleted
        case .unauthorized: .merchantGenericUnauthorized
        case .permissionInsufficient: .genericTokenPermissionInsufficient
        case .malformedParameter: .genericParameterMalformed
        case .tokenUnknown: .merchantGenericAccessTokenUnknown
        case .instanceAlreadyExists: .merchantPrivatePostInstancesAlreadyExists
        case .purgeRequired: .merchantPrivatePostInstancesPurgeRequired
        case .badInstanceAuth: .merchantPrivatePostInstancesBadAuth
        case .badCredentialsChange: .merchantPrivatePostInstanceAuthBadAuth
        case .duplicateTokenHash: .genericInternalInvariantFailure
        }
    }

    /// A human hint for the error body; safe to send (no secrets, no token hashes).
    public var hint: String {
        switch self {
        case .instanceUnknown: "unknown instance"
        case .instanceDeleted: "instance deleted"
        case .unauthorized: "unauthorized"
        case .permissionInsufficient(let missing): "missing permissions: \(missing)"
        case .malformedParameter(let name): "malformed parameter: \(name)"
        case .tokenUnknown(let serial): "no valid token with serial \(serial)"
        case .instanceAlreadyExists: "an instance with this id exists with different data"
        case .purgeRequired: "the instance was deleted and must be purged first"
        case .badInstanceAuth, .badCredentialsChange: "malformed auth configuration"
        case .duplicateTokenHash: "token hash collision"
        }
    }

    public var description: String { "\(errorCode): \(hint)" }
}
