import EventLog
import TokenDomain

/// Runs the commands of one instance: decide → append → fold, in that order, one decision at
/// a time, with the state changing only from committed events.
///
/// Why this split. An instance's stream is the unit of consistency (one expected version per
/// append), so one actor per instance serialises its decisions; different instances never
/// wait for each other. Tokens are not actors: a token's whole life is a small state machine
/// (issued → revoked, with expiry a pure function of time) that lives as a value inside its
/// instance's state, because every rule about a token (serials, the subset rule, revocation
/// racing a refresh) is decided against its instance, and a million token actors would cost
/// far more memory than the 256 bytes a token may use.
///
/// Reentrancy. The actor gives up its executor only while waiting for a commit, and only
/// after it has queued the append (``EventStore/submit(to:expecting:events:)`` queues
/// synchronously), so decisions and their appends happen in one order. Token commands are
/// pipelined: while an issue or revocation waits for its commit, the next one is decided on
/// the committed state plus what is queued (``DecisionContext/reservedSerials`` and
/// ``DecisionContext/pendingRevocations``) and appended with the next expected version, so
/// many mints of one instance share one flush. A revocation queued before a refresh is seen
/// by that refresh's decision. Every other command (credentials, details, deletion, creation)
/// runs alone: it waits until nothing is queued, decides on the committed state, and holds the
/// instance until its own commit is folded. The log's expected stream version backs all of it:
/// an append decided on a state that did not commit fails and is decided again.
actor InstanceActor {
    private struct Queued {
        let pending: PendingAppend
        let events: [DomainEvent]
        /// The event ids, when marked in flight for the follower (several servers).
        let own: [EventID]
        let issued: UInt64
        let revoked: [TokenSerial]
    }

    let id: InstanceID
    private let log: any EventStore
    private let projection: Projection
    private let onFoldFailure: @Sendable (FoldError) -> Void
    /// With other servers writing the same log: waits until the state has folded every
    /// record committed so far, so that a decision refused for a stale expected version is
    /// taken again on the state that refused it; throws when the store cannot say where its
    /// head is. `nil`: this server is the only writer.
    private let catchUp: (@Sendable () async throws -> Void)?

    private var queue: [Queued] = []
    private var queuedEvents: UInt64 = 0
    private var reservedSerials: UInt64 = 0
    private var pendingRevocations: Set<TokenSerial> = []
    private var exclusive = false
    /// The newest append of this instance that the log refused for a reason other than a
    /// stale expected version (a full disk or map), until an append succeeds. Appends queued
    /// behind a refused one fail with `wrongExpectedVersion`; when retries run out, this is
    /// the cause the client is told.
    private var lastRefusal: (any Error)?
    private var waitingForTurn: [CheckedContinuation<Void, Never>] = []
    private var waitingForDrain: [CheckedContinuation<Void, Never>] = []

    init(
        id: InstanceID, log: any EventStore, projection: Projection,
        catchUp: (@Sendable () async throws -> Void)? = nil,
        onFoldFailure: @escaping @Sendable (FoldError) -> Void
    ) {
        self.catchUp = catchUp
        self.id = id
        self.log = log
        self.projection = projection
        self.onFoldFailure = onFoldFailure
    }

    /// Decides `plan` and, when it produces events, appends them and folds them once
    /// committed. Returns the committed events (empty when there was nothing to do).
    ///
    /// - Parameters:
    ///   - credential: when given, checked (with `permission`, if any) in the same critical
    ///     section as the decision, so a revocation or password change cannot slip between.
    ///   - context: the decision context without the pipelining fields, which the actor fills.
    ///   - sideEffect: work outside the log between the decision and its append (the
    ///     merchant's side of an instance change); its events are appended after the
    ///     decided ones, in the same append. Only for commands that run alone.
    /// - Throws: ``EngineError`` for a rejection, a failed side effect or a failed commit. A
    ///   refusal that records events (``CommandPlan/recorded(_:)``) is thrown after they
    ///   committed.
    func execute(
        _ plan: CommandPlan, context: DecisionContext, credential: Credential? = nil,
        permission: Permission? = nil, sideEffect: SideEffect? = nil
    ) async throws(EngineError) -> [DomainEvent] {
        let pipelined = plan.isPipelined
        precondition(sideEffect == nil || !pipelined, "a side effect needs the instance alone")
        var attempt = 0
        while true {
            attempt += 1
            // A command that keeps losing its version to another server's appends is decided
            // alone after a few rounds: no pipelined command of this server goes before it.
            let alone = !pipelined || attempt > Self.pipelinedRounds
            if alone { await takeInstance() } else { await waitForTurn() }
            let outcome = await decideAndCommit(
                plan, context: context, credential: credential, permission: permission,
                sideEffect: sideEffect)
            if alone { releaseInstance() }
            switch outcome {
            case .success(let events):
                return events
            case .failure(let error):
                if case .wrongExpectedVersion = error as? EventLogError {
                    if let catchUp, attempt < Self.sharedLogAttempts {
                        // A store that cannot say where its head is fails the command now
                        // (503 while the database is down) instead of deciding again.
                        do { try await catchUp() } catch { throw EngineError.storage(error) }
                        await drained()
                        continue
                    }
                    if attempt < 3 { continue }
                    if let cause = lastRefusal { throw EngineError.storage(cause) }
                    if catchUp != nil { throw EngineError.contended }
                }
                if let engineError = error as? EngineError { throw engineError }
                throw EngineError.storage(error)
            }
        }
    }

    /// Decisions of one command when other servers write the same log: each refused one waited
    /// for the state to catch up, and every round some server's append wins, so only a command
    /// that loses this many rounds in a row fails.
    static let sharedLogAttempts = 100
    /// Rounds a pipelined command is decided in the pipeline before it is decided alone.
    static let pipelinedRounds = 3

    private func decideAndCommit(
        _ plan: CommandPlan, context: DecisionContext, credential: Credential?,
        permission: Permission?, sideEffect: SideEffect?
    ) async -> Result<[DomainEvent], any Error> {
        // An append that failed still counts in `queuedEvents` until it is taken off the
        // queue: a decision on top of it would expect a version that another server's append
        // may hold by chance (and succeed on a state that lacks it). Fold what has completed,
        // and decide nothing on top of a failure still queued behind an unfinished append.
        foldCommitted()
        if queue.contains(where: { $0.pending.completedResult?.isFailure == true }) {
            return .failure(
                EventLogError.wrongExpectedVersion(
                    stream: id.rawValue, expected: .any, actual: 0))
        }
        var context = context
        context.reservedSerials = reservedSerials
        context.pendingRevocations = pendingRevocations
        let id = self.id
        let queuedEvents = self.queuedEvents
        let decided:
            Result<(decision: Decision, expected: UInt64, state: InstanceState?), EngineError> =
                projection.read {
                    c in
                    do throws(EngineError) {
                        if let credential, let state = c.state[id] {
                            do throws(Rejection) {
                                if let permission {
                                    try state.authorize(
                                        credential, requiring: permission, at: context.now,
                                        pendingRevocations: context.pendingRevocations)
                                } else {
                                    _ = try state.permissions(
                                        of: credential, at: context.now,
                                        pendingRevocations: context.pendingRevocations)
                                }
                            } catch {
                                throw EngineError.rejected(error)
                            }
                        }
                        let decision = try plan.decide(
                            state: c.state, instance: id, context: context)
                        // Only a side effect gets the state before (without the token index):
                        // a copy held past the lock makes the next fold of this instance copy
                        // whatever it shares (at 10M tokens a 128 MB index), and pipelined
                        // mints hold theirs until their append commits.
                        let before = sideEffect == nil ? nil : c.state[id]?.withoutTokenIndex()
                        return .success((decision, (c.versions[id] ?? 0) + queuedEvents, before))
                    } catch {
                        return .failure(error)
                    }
                }
        var events: [DomainEvent]
        let expected: UInt64
        let refusal: Rejection?
        let stateBefore: InstanceState?
        switch decided {
        case .failure(let error): return .failure(error)
        case .success(let d):
            (events, refusal, expected, stateBefore) =
                (d.decision.events, d.decision.rejection, d.expected, d.state)
        }
        if events.isEmpty {
            if let refusal { return .failure(EngineError.rejected(refusal)) }
            return .success([])
        }
        if let sideEffect, refusal == nil {
            // The instance is held (the command runs alone), so the decision stays current
            // while the side effect awaits.
            do {
                events += try await sideEffect(events, stateBefore, expected)
            } catch {
                return .failure(error)
            }
        }

        let proposed = events.map { event -> ProposedEvent in
            let (tag, payload) = EventCodec.encode(event)
            return ProposedEvent(type: tag, payload: payload)
        }
        let own = catchUp == nil ? [] : proposed.map(\.id)
        if !own.isEmpty { projection.markInFlight(own) }
        let pending = log.submit(to: id.rawValue, expecting: .exact(expected), events: proposed)
        var issued: UInt64 = 0
        var revoked: [TokenSerial] = []
        for event in events {
            switch event {
            case .tokenIssued: issued += 1
            case .tokenRevoked(let r): revoked.append(r.serial)
            default: break
            }
        }
        queue.append(
            Queued(pending: pending, events: events, own: own, issued: issued, revoked: revoked))
        self.queuedEvents += UInt64(events.count)
        reservedSerials += issued
        pendingRevocations.formUnion(revoked)

        let result: Result<AppendResult, any Error>
        do {
            result = .success(try await pending.result())
        } catch {
            result = .failure(error)
        }
        switch result {
        case .success: lastRefusal = nil
        case .failure(let error):
            if case .wrongExpectedVersion = error as? EventLogError {} else { lastRefusal = error }
        }
        foldCommitted()
        if case .success = result, let refusal { return .failure(EngineError.rejected(refusal)) }
        return result.map { _ in events }
    }

    /// Folds, in queue order, every queued append whose commit has been answered. Appends
    /// commit in the order they were queued, so when one is answered all before it are too.
    private func foldCommitted() {
        while let first = queue.first, let outcome = first.pending.completedResult {
            queue.removeFirst()
            queuedEvents -= UInt64(first.events.count)
            reservedSerials -= first.issued
            pendingRevocations.subtract(first.revoked)
            if case .success(let committed) = outcome, !committed.wasDuplicate {
                do {
                    try projection.apply(id, first.events, committed: committed, own: first.own)
                } catch {
                    onFoldFailure(error)
                }
            } else if !first.own.isEmpty {
                projection.releaseInFlight(first.own)
            }
        }
        if queue.isEmpty {
            let waiters = waitingForDrain
            waitingForDrain = []
            for w in waiters { w.resume() }
        }
    }

    /// Returns once no append of this instance is queued.
    private func drained() async {
        while !queue.isEmpty {
            await withCheckedContinuation { waitingForDrain.append($0) }
        }
    }

    private func waitForTurn() async {
        while exclusive {
            await withCheckedContinuation { waitingForTurn.append($0) }
        }
    }

    private func takeInstance() async {
        await waitForTurn()
        exclusive = true
        await drained()
    }

    private func releaseInstance() {
        exclusive = false
        let waiters = waitingForTurn
        waitingForTurn = []
        for w in waiters { w.resume() }
    }
}

/// Work done outside the log between a command's decision and its append: given the decided
/// events, the instance's state before them and its stream version, it acts (on the merchant
/// backend) and returns the events that record what it did, or throws and nothing is
/// appended. Run again, after a crash, with the same version, it must finish the same job.
typealias SideEffect =
    @Sendable (_ decided: [DomainEvent], _ before: InstanceState?, _ version: UInt64)
    async throws(EngineError) -> [DomainEvent]

extension Result {
    var isFailure: Bool {
        if case .failure = self { return true }
        return false
    }
}

extension DomainCommand {
    /// Token commands may be decided while earlier ones of the same instance await their
    /// commit; every other command runs alone.
    var isPipelined: Bool {
        switch self {
        case .issueToken, .revokeToken, .deleteToken: true
        default: false
        }
    }
}
