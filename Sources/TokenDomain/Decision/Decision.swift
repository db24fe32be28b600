/// What deciding a command gives the engine: the events to append and, when the command is
/// refused, the refusal to answer with once they are appended.
///
/// Most refusals come with no events. A wrong TAN is both: the failed attempt must be
/// recorded (it counts against the code and towards blocking logins) and the client gets
/// 409 with `retry_counter`. Append ``events`` first (if any), then answer with
/// ``rejection`` (if any) or success.
public struct Decision: Hashable, Sendable {
    public var events: [DomainEvent]
    public var rejection: Rejection?

    public init(events: [DomainEvent] = [], rejection: Rejection? = nil) {
        self.events = events
        self.rejection = rejection
    }

    /// The events of an accepted command.
    ///
    /// - Throws: the ``rejection``, if any, dropping any events that came with it: use this
    ///   only where unrecorded events are acceptable (tests); the engine appends
    ///   ``events`` itself.
    public func get() throws(Rejection) -> [DomainEvent] {
        if let rejection { throw rejection }
        return events
    }
}
