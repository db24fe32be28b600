import TokenDomain

/// What an ``InstanceActor`` decides in one turn: a single command, or a command whose
/// refusal is itself recorded.
enum CommandPlan: Sendable {
    /// One command (a ``ProtectedCommand`` included); a refusal appends nothing.
    case command(DomainCommand)
    /// One command decided with ``Decider/decision(_:instance:state:context:)``: a refusal
    /// that comes with events (a wrong TAN) appends them, then is thrown.
    case recorded(DomainCommand)

    /// Only plain token commands are pipelined; a protected command runs alone, because its
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
        }
    }
}
