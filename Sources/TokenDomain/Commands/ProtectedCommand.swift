/// A command that two-factor authentication may protect (spec §6, §10.1), with what the
/// request brought for it: minting with the instance's password, changing credentials,
/// deleting the instance, changing its addresses.
///
/// `decide` decides in one turn, on the committed state, whether two-factor authentication
/// applies (``TwoFactorGate`` in the context, the instance's addresses); when it does not,
/// the command is decided alone. When it does, the answer is one of:
/// - new challenges (the `202`), when the request named none (``challengeIDs`` is `nil`);
/// - the named challenges consumed and the command performed, in one append, so the
///   challenges are used exactly when the operation happens;
/// - for an address change with a new address: the challenges at the current addresses
///   consumed and a challenge sent to each new address created (a second `202`); the
///   repeated request with those consumes them, stores the new addresses and records them
///   validated (``InstanceAddressValidated``).
///
/// Either way an ended login block and expired challenges are recorded first.
public struct ProtectedCommand: Hashable, Sendable {
    /// The operation itself: ``IssueToken``, ``ChangeCredentials``, ``DeleteInstance`` or
    /// ``UpdateInstanceDetails``.
    public var command: DomainCommand
    /// SHA-256 of the request body (or a deletion's canonical parameters); the repeated
    /// request must have the same.
    public var bodyHash: RequestBodyHash
    /// The ids of the `Taler-Challenge-Ids` header, `nil` when the header was absent.
    public var challengeIDs: [ChallengeID]?
    /// A fresh random id per channel, for the challenges this decision may create.
    public var newIDs: [TANChannel: ChallengeID]

    public init(
        _ command: DomainCommand, bodyHash: RequestBodyHash, challengeIDs: [ChallengeID]?,
        newIDs: [TANChannel: ChallengeID]
    ) {
        self.command = command
        self.bodyHash = bodyHash
        self.challengeIDs = challengeIDs
        self.newIDs = newIDs
    }
}

extension DomainCommand {
    /// The operation a challenge for this command on `state` protects, or `nil` when the
    /// command is never challenged there: a mint with a login token, a details change that
    /// leaves both addresses as they are, or any other command.
    ///
    /// - Throws: ``Rejection/addressUnusable(_:)`` for a details change with an address
    ///   that fails ``ContactAddress``'s rules.
    func protectedOperation(on state: InstanceState) throws(Rejection) -> ProtectedOperation? {
        switch self {
        case .issueToken(let issue):
            if case .password = issue.authenticatedBy { return .tokenIssue }
            return nil
        case .changeCredentials: return .credentialChange
        case .deleteInstance: return .instanceDeletion
        case .updateInstanceDetails(let update):
            let addresses = try update.addresses(from: state)
            let changed = TANChannel.allCases.contains {
                addresses[$0] != state.address(for: $0)
            }
            return changed ? .addressChange : nil
        default:
            return nil
        }
    }
}
