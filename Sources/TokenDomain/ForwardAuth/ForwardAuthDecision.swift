/// The answer to a forward-auth check (spec §9): pass with no backend credential, allow with
/// the instance's backend credential, or deny with 401 or 403.
///
/// Only 200, 401 and 403 are ever meant: nginx turns any other status of an `auth_request`
/// into a 500, so an unknown instance is a 401 here, never a 404.
public enum ForwardAuthDecision: Hashable, Sendable, CustomStringConvertible {
    /// 200 with no backend credential: the merchant gets the request without one.
    case pass(Pass)
    /// 200 with the backend credential of `instance`; `required` is what the request needed
    /// (for the informative headers and logs).
    case allow(instance: InstanceID, required: PermissionSet)
    /// 401 or 403 with a Taler error body.
    case deny(Denial)

    /// Why a request passes without a backend credential.
    public enum Pass: Hashable, Sendable {
        /// A public endpoint, or a request outside `/private` and `/management` in no row.
        case publicEndpoint
        /// An endpoint Tallystick answers itself: the proxy should have routed it to
        /// Tallystick, not asked. Passing it without a backend credential is safe either
        /// way: routed to Tallystick, its endpoint checks its own credentials; misrouted to
        /// the merchant, the merchant sees no credential and refuses it itself. A 404 would
        /// reach the client as nginx's 500.
        case servedByTallystick
    }

    /// Why a request is refused.
    public enum Denial: Hashable, Sendable, CustomStringConvertible {
        /// The instance whose credentials count is unknown to Tallystick (or purged): no
        /// credential of it can be valid.
        case instanceUnknown
        /// That instance is deleted: its tokens stopped working (spec §5).
        case instanceDeleted
        /// No credential was presented.
        case noCredential
        /// The credential is unknown, expired, revoked or a wrong password.
        case credentialInvalid
        /// The credential is valid, but for another instance (payload: that instance, for
        /// logs; the body does not name it).
        case otherInstance(InstanceID)
        /// The credential lacks these permissions.
        case permissionInsufficient(missing: PermissionSet)

        /// 401 for everything about the credential's validity, 403 for a valid credential
        /// that does not reach (spec §9).
        public var httpStatus: Int {
            switch self {
            case .instanceUnknown, .instanceDeleted, .noCredential, .credentialInvalid: 401
            case .otherInstance, .permissionInsufficient: 403
            }
        }

        /// The Taler error of the body: 2015 (`MERCHANT_GENERIC_UNAUTHORIZED`), or 16
        /// (`GENERIC_TOKEN_PERMISSION_INSUFFICIENT`) for a missing permission. A 403 with
        /// code 2015 (another instance's credential) is spec §9's; 2015 is otherwise a 401.
        public var errorCode: TalerErrorCode {
            switch self {
            case .permissionInsufficient: .genericTokenPermissionInsufficient
            default: .merchantGenericUnauthorized
            }
        }

        /// A human hint for the body; no secret, no other instance's id.
        public var hint: String {
            switch self {
            case .instanceUnknown: "unknown instance"
            case .instanceDeleted: "instance deleted"
            case .noCredential: "no credential"
            case .credentialInvalid: "unauthorized"
            case .otherInstance: "the credential is not one of this instance"
            case .permissionInsufficient(let missing): "missing permissions: \(missing)"
            }
        }

        public var description: String { "\(httpStatus) \(errorCode): \(hint)" }
    }

    public var description: String {
        switch self {
        case .pass(let pass): "pass (\(pass))"
        case .allow(let instance, let required): "allow \(instance) (\(required))"
        case .deny(let denial): "deny \(denial)"
        }
    }
}
