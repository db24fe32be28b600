/// The state of the whole server: every instance that exists (deleted ones included, purged
/// ones not), folded from all instance streams.
///
/// Events of different instances are independent, so the fold only needs each stream's own
/// order. Build it with ``apply(_:)``; compare two with ``digest(into:)``.
public struct ServerState: Equatable, Sendable {
    public private(set) var instances: [InstanceID: InstanceState]
    /// Set between ``deferTokenIndexes()`` and ``rebuildTokenIndexes()``.
    private var tokenIndexesDeferred = false

    /// The state before any event.
    public init() {
        instances = [:]
    }

    /// A state holding exactly `instances`, e.g. from a snapshot; each key must be its
    /// instance's id.
    init(instances: [InstanceID: InstanceState]) {
        self.instances = instances
    }

    /// A state holding exactly `instances` (each read from a checkpoint's parts, with
    /// distinct ids).
    public init(restoring instances: some Sequence<InstanceState>) {
        self.init(instances: Dictionary(instances.map { ($0.id, $0) }) { first, _ in first })
    }

    /// The instance with this id, if it exists (active or deleted).
    public subscript(instance: InstanceID) -> InstanceState? {
        instances[instance]
    }

    /// Folds one stored event, in place (no copy of the instance's tokens).
    ///
    /// - Throws: ``FoldError`` when the event does not fit; the state is then unchanged.
    public mutating func apply(_ stored: StoredEvent) throws(FoldError) {
        switch stored.event {
        case .instanceCreated, .instancePurged:
            var state = instances.removeValue(forKey: stored.instance)
            defer { instances[stored.instance] = state }
            try Decider.evolve(&state, instance: stored.instance, with: stored.event)
            if tokenIndexesDeferred { state?.deferTokenIndex() }
        default:
            // Mutate through `values[index]`: in place, where `instances[id]` (an optional)
            // would copy the instance out and back on every event.
            guard let index = instances.index(forKey: stored.instance) else {
                throw FoldError(
                    instance: stored.instance, tag: stored.event.tag, problem: .instanceUnknown)
            }
            try instances.values[index].apply(stored.event)
        }
    }

    /// Starts a bulk fold: token hashes are not indexed until ``rebuildTokenIndexes()``, which
    /// indexes them all at once (several times faster for a million tokens). Between the
    /// two, fold events only: deciding or looking a token up by hash is a programming error.
    public mutating func deferTokenIndexes() {
        tokenIndexesDeferred = true
        for index in instances.indices { instances.values[index].deferTokenIndex() }
    }

    /// Ends a bulk fold by indexing every token.
    /// - Throws: ``FoldError`` when two tokens of an instance share a hash.
    public mutating func rebuildTokenIndexes() throws(FoldError) {
        for index in instances.indices { try instances.values[index].rebuildTokenIndex() }
        tokenIndexesDeferred = false
    }

    /// Prepares room for `count` more tokens in `instance` (e.g. from a checkpoint's token
    /// count before folding the tail), so loading does not grow the arrays by doubling.
    /// Does nothing for an instance the state does not have.
    public mutating func reserveTokenCapacity(_ count: Int, for instance: InstanceID) {
        guard let index = instances.index(forKey: instance) else { return }
        instances.values[index].reserveTokenCapacity(count)
    }

    /// Decides `command` for `instance` against this state; see
    /// ``Decider/decide(_:instance:state:context:)``.
    public func decide(
        _ command: DomainCommand, for instance: InstanceID, context: DecisionContext
    ) throws(Rejection) -> [DomainEvent] {
        try Decider.decide(
            command, instance: instance, state: instances[instance], context: context)
    }

    /// Decides `command` for `instance` against this state, refusals with the events they
    /// still record; see ``Decider/decision(_:instance:state:context:)``.
    public func decision(
        _ command: DomainCommand, for instance: InstanceID, context: DecisionContext
    ) -> Decision {
        Decider.decision(command, instance: instance, state: instances[instance], context: context)
    }
}
