/// The two-factor gate (spec §6, §10.1): whether a protected command is challenged, and what
/// a request that names solved challenges may do.
///
/// Decided in one turn on the committed state, so an address added or removed meanwhile
/// cannot let a request slip through. Order: the command's own instance checks (404), the
/// gate (does two-factor authentication apply to this command on this state?), then, for a
/// request that names no challenge, the command's own refusals (a malformed or disallowed
/// change is refused before anyone is asked for a code); an ended login block and expired
/// challenges recorded, then new challenges, or the named ones consumed and the command
/// decided on the state with them folded (a copy), all in one list of events for one
/// append.
///
/// An address change (``ProtectedOperation/addressChange``) has two steps when it brings a
/// new address for a channel with a helper: the challenges at the current addresses (as
/// configured, `combi_and` included), then one challenge per new address
/// (``ProtectedOperation/addressValidation``, every one required), created in the same
/// append that consumes the first step's. The new address takes effect, validated, only
/// with the second step; until then challenges go to the old address. An instance whose
/// current addresses do not protect it starts at the second step. A second-step challenge
/// made without a first step cannot complete once the current addresses protect the
/// instance: the change must start again (``Rejection/ChallengeRefusal/currentAddressesNotAsked(_:)``).
extension Decider {
    static func decideProtected(
        _ protected: ProtectedCommand, instance: InstanceID, state: InstanceState?,
        context: DecisionContext
    ) throws(Rejection) -> [DomainEvent] {
        let command = protected.command
        guard let state, state.isActive,
            let operation = try command.protectedOperation(on: state)
        else {
            return try decide(command, instance: instance, state: state, context: context)
        }
        let gate = context.twoFactor
        let current = gate.applies(to: state)
        let newAddresses = try proofsNeeded(for: command, on: state, gate: gate)
        guard current || !newAddresses.isEmpty else {
            return try decide(command, instance: instance, state: state, context: context)
        }
        var run = Evolving(instance: instance, state: state, context: context)
        try run.decide(.unblockLogins(UnblockLogins()))
        try run.decide(.expireChallenges(ExpireChallenges()))

        guard let ids = protected.challengeIDs else {
            _ = try decide(command, instance: instance, state: state, context: context)
            if current {
                try run.decide(
                    .createChallenges(
                        CreateChallenges(
                            operation: operation, bodyHash: protected.bodyHash,
                            newIDs: protected.newIDs.filter { gate.channels.contains($0.key) },
                            combiAnd: gate.requireAllChannels)))
            } else {
                try run.createProofs(of: newAddresses, for: protected)
            }
            return run.events
        }

        let named = ids.first.flatMap { run.state.challenges[$0] }
        if operation == .addressChange, named?.operation == .addressValidation, let named {
            if current {
                // The first step must have consumed challenges at the current addresses in
                // the turn that created this one.
                let asked = run.state.challenges.values.contains { challenge in
                    challenge.operation == .addressChange
                        && challenge.bodyHash == protected.bodyHash
                        && challenge.status == .consumed(at: named.createdAt)
                }
                guard asked else {
                    throw .challengesNotUsable(.currentAddressesNotAsked(named.id))
                }
            }
            try run.decide(
                .consumeChallenges(
                    ConsumeChallenges(
                        ids: ids, operation: .addressValidation, bodyHash: protected.bodyHash)))
            var proofs: [(TANChannel, String, ChallengeID)] = []
            for (channel, address) in newAddresses.sorted(by: { $0.key < $1.key }) {
                let proof = Set(ids).compactMap { run.state.challenges[$0] }.first {
                    $0.channel == channel && $0.address == address
                }
                guard let proof else { throw .challengesNotUsable(.addressNotProven(channel)) }
                proofs.append((channel, address, proof.id))
            }
            try run.decide(command)
            for (channel, address, id) in proofs {
                try run.append(
                    .instanceAddressValidated(
                        InstanceAddressValidated(
                            at: context.now, channel: channel, address: address, challenge: id)))
            }
            return run.events
        }

        try run.decide(
            .consumeChallenges(
                ConsumeChallenges(ids: ids, operation: operation, bodyHash: protected.bodyHash)))
        if operation == .addressChange, !newAddresses.isEmpty {
            try run.createProofs(of: newAddresses, for: protected)
            return run.events
        }
        try run.decide(command)
        return run.events
    }

    /// The new addresses of an address change that a challenge can prove (their channel has
    /// a helper), by channel; empty for every other command.
    private static func proofsNeeded(
        for command: DomainCommand, on state: InstanceState, gate: TwoFactorGate
    ) throws(Rejection) -> [TANChannel: String] {
        guard case .updateInstanceDetails(let update) = command else { return [:] }
        return try update.addresses(from: state).filter { channel, address in
            gate.channels.contains(channel) && address != state.address(for: channel)
        }
    }

    /// Decides commands one after the other on a copy of the state that folds each one's
    /// events, collecting them for one append.
    private struct Evolving {
        let instance: InstanceID
        let context: DecisionContext
        private var current: InstanceState?
        private(set) var events: [DomainEvent] = []

        init(instance: InstanceID, state: InstanceState, context: DecisionContext) {
            self.instance = instance
            self.context = context
            current = state
        }

        /// The state with every event so far folded.
        var state: InstanceState {
            guard let current else { preconditionFailure("the instance left the state") }
            return current
        }

        mutating func decide(_ command: DomainCommand) throws(Rejection) {
            for event in try Decider.decide(
                command, instance: instance, state: current, context: context)
            {
                try append(event)
            }
        }

        /// Folds and keeps `event`.
        /// - Throws: ``Rejection/decidedEventDoesNotFold`` (a bug in `decide`).
        mutating func append(_ event: DomainEvent) throws(Rejection) {
            do throws(FoldError) {
                try Decider.evolve(&current, instance: instance, with: event)
            } catch {
                throw .decidedEventDoesNotFold
            }
            events.append(event)
        }

        /// One challenge per new address, every one required.
        mutating func createProofs(
            of addresses: [TANChannel: String], for protected: ProtectedCommand
        ) throws(Rejection) {
            try decide(
                .createChallenges(
                    CreateChallenges(
                        operation: .addressValidation, bodyHash: protected.bodyHash,
                        newIDs: protected.newIDs.filter { addresses[$0.key] != nil },
                        combiAnd: true, addresses: addresses)))
        }
    }
}
