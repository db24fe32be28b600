import TokenDomain

/// What an ``InstanceActor`` decides in one turn: a single command, a command whose refusal
/// is itself recorded, or an operation that two-factor authentication may protect.
enum CommandPlan: Sendable {
    /// One command; a refusal appends nothing.
    case command(DomainCommand)
    /// One command decided with ``Decider/decision(_:instance:state:context:)``: a refusal
    /// that comes with events (a wrong TAN) appends them, then is thrown.
    case recorded(DomainCommand)
    /// An operation behind the two-factor gate (see ``ProtectedPlan``).
    case protected(ProtectedPlan)

    /// Only plain token commands are pipelined; a protected mint runs alone, because its
    /// challenges are decided on the committed state.
    var isPipelined: Bool {
        if case .command(let command) = self { return command.isPipelined }
        return false
    }

    func decide(state: ServerState, instance: InstanceID, context: DecisionContext)
        throws(EngineError) -> Decision
    {
        switch self {
        case .command(let command):
            do throws(Rejection) {
                return Decision(events: try state.decide(command, for: instance, context: context))
            } catch {
                throw EngineError.rejected(error)
            }
        case .recorded(let command):
            return state.decision(command, for: instance, context: context)
        case .protected(let plan):
            return Decision(
                events: try plan.decide(
                    state: state[instance], instance: instance, context: context))
        }
    }
}

/// A protected operation (spec §6: minting with the instance's credentials, changing
/// credentials, deleting the instance) and what the request brought for the gate.
///
/// Whether two-factor authentication applies is decided on the committed state in the
/// same turn as the operation, so an address added or removed meanwhile cannot let a
/// request slip through: when it does not apply, the operation is decided alone; when it
/// applies and the request named no challenges, the answer is new challenges (the `202`);
/// when it named some, they are consumed and the operation performed in one append.
/// Either way an ended login block and expired challenges are recorded first.
struct ProtectedPlan: Sendable {
    var operation: ProtectedOperation
    var bodyHash: RequestBodyHash
    /// The ids of `Taler-Challenge-Ids`, `nil` when the header was absent.
    var challengeIDs: [ChallengeID]?
    /// A fresh id per channel the operator has a helper for.
    var newIDs: [TANChannel: ChallengeID]
    var gate: TwoFactorGate
    /// The operation itself.
    var command: DomainCommand

    func decide(state: InstanceState?, instance: InstanceID, context: DecisionContext)
        throws(EngineError) -> [DomainEvent]
    {
        guard let state, state.isActive, gate.applies(to: state) else {
            do throws(Rejection) {
                return try Decider.decide(
                    command, instance: instance, state: state, context: context)
            } catch {
                throw EngineError.rejected(error)
            }
        }
        var commands: [DomainCommand] = [
            .unblockLogins(UnblockLogins()), .expireChallenges(ExpireChallenges()),
        ]
        if let challengeIDs {
            commands.append(
                .consumeChallenges(
                    ConsumeChallenges(ids: challengeIDs, operation: operation, bodyHash: bodyHash)))
            commands.append(command)
        } else {
            commands.append(
                .createChallenges(
                    CreateChallenges(
                        operation: operation, bodyHash: bodyHash,
                        newIDs: newIDs.filter { gate.channels.contains($0.key) },
                        combiAnd: gate.requireAllChannels)))
        }
        var current: InstanceState? = state
        var events: [DomainEvent] = []
        for command in commands {
            let decided: [DomainEvent]
            do throws(Rejection) {
                decided = try Decider.decide(
                    command, instance: instance, state: current, context: context)
            } catch {
                throw EngineError.rejected(error)
            }
            for event in decided {
                do throws(FoldError) {
                    try Decider.evolve(&current, instance: instance, with: event)
                } catch {
                    throw EngineError(
                        code: .genericInternalInvariantFailure,
                        hint: "a decided event does not fold: \(error)")
                }
            }
            events += decided
        }
        return events
    }
}

/// The operator's two-factor rule, as the actor applies it to an instance's state.
struct TwoFactorGate: Sendable, Hashable {
    /// Channels the operator has a helper for.
    var channels: Set<TANChannel>
    /// Whether every instance with an address must pass a challenge, even when no helper
    /// serves its address (then the request fails with 403, code 2031).
    var mandatory: Bool
    /// Whether every challenge of a `202` must be solved (`combi_and`).
    var requireAllChannels: Bool

    /// Whether nothing is ever protected (no helper, not mandatory): protected operations
    /// then run as plain commands, pipelined like any other.
    var isOff: Bool { channels.isEmpty && !mandatory }

    /// Applies to an instance with an address for a channel that has a helper, and, when
    /// mandatory, to every instance with an address.
    func applies(to state: InstanceState) -> Bool {
        let present = TANChannel.allCases.filter { state.address(for: $0) != nil }
        if present.contains(where: channels.contains) { return true }
        return mandatory && !present.isEmpty
    }
}
