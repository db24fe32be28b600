import EventLogTestSupport
import Testing
import TokenDomain

@testable import TokenEngine

/// Yields until `condition` holds; records an issue naming `what` if it never does.
func expectEventually(_ what: Comment, _ condition: () -> Bool) async {
    if !(await eventually(condition)) { Issue.record("never happened: \(what)") }
}

@Suite("The password-hashing queue")
struct HashingQueueTests {
    static let a = RequesterKey(high: 0, low: 1)
    static let b = RequesterKey(high: 0, low: 2)
    static let c = RequesterKey(high: 0, low: 3)

    /// The order jobs ran in, as their labels arrive on a stream.
    final class Runs: Sendable {
        let stream: AsyncStream<String>
        let sink: AsyncStream<String>.Continuation
        init() { (stream, sink) = AsyncStream.makeStream(of: String.self) }

        func job(_ label: String, holding latch: Latch? = nil) -> HashingQueue.Job {
            let sink = sink
            return {
                sink.yield("start " + label)
                latch?.pass()
                sink.yield(label)
            }
        }
    }

    @Test func requestersAreServedInTurnAndANewcomerWaitsOnlyForTheRunningHash() async {
        let queue = HashingQueue(.init(threads: 1, waiting: 16, perRequester: 4))
        let runs = Runs()
        let latch = Latch()
        var events = runs.stream.makeAsyncIterator()
        #expect(queue.submit(for: Self.a, runs.job("a1", holding: latch)))
        #expect(await events.next() == "start a1")
        for (key, label) in [(Self.a, "a2"), (Self.a, "a3"), (Self.b, "b1"), (Self.c, "c1")] {
            #expect(queue.submit(for: key, runs.job(label)))
        }
        latch.open()
        var finished = [String]()
        while finished.count < 5, let event = await events.next() {
            if !event.hasPrefix("start ") { finished.append(event) }
        }
        #expect(finished == ["a1", "b1", "c1", "a2", "a3"])
        #expect(queue.waitingCount == 0)
    }

    @Test func aRequesterThatFloodsWaitsForItsOwnJobsOnly() async {
        let queue = HashingQueue(.init(threads: 1, waiting: 16, perRequester: 3))
        let runs = Runs()
        let latch = Latch()
        var events = runs.stream.makeAsyncIterator()
        #expect(queue.submit(for: Self.a, runs.job("a1", holding: latch)))
        #expect(await events.next() == "start a1")
        // One running and two waiting fill a's share; a fourth is refused and never runs.
        #expect(queue.submit(for: Self.a, runs.job("a2")))
        #expect(queue.submit(for: Self.a, runs.job("a3")))
        #expect(!queue.submit(for: Self.a, runs.job("refused")))
        #expect(queue.waitingCount == 2)
        // Another requester still gets in, and runs next.
        #expect(queue.submit(for: Self.b, runs.job("b1")))
        latch.open()
        var finished = [String]()
        while finished.count < 4, let event = await events.next() {
            if !event.hasPrefix("start ") { finished.append(event) }
        }
        #expect(finished == ["a1", "b1", "a2", "a3"])
        // With a1..a3 done, a's share is free again.
        #expect(queue.submit(for: Self.a, runs.job("a4")))
        #expect(await events.next() == "start a4")
        #expect(await events.next() == "a4")
    }

    @Test func theQueueAsAWholeIsBounded() async {
        let queue = HashingQueue(.init(threads: 1, waiting: 2, perRequester: 4))
        let runs = Runs()
        let latch = Latch()
        var events = runs.stream.makeAsyncIterator()
        #expect(queue.submit(for: Self.a, runs.job("a1", holding: latch)))
        #expect(await events.next() == "start a1")
        #expect(queue.submit(for: Self.b, runs.job("b1")))
        #expect(queue.submit(for: Self.c, runs.job("c1")))
        #expect(!queue.submit(for: RequesterKey(high: 9, low: 9), runs.job("refused")))
        latch.open()
        var finished = [String]()
        while finished.count < 3, let event = await events.next() {
            if !event.hasPrefix("start ") { finished.append(event) }
        }
        #expect(finished == ["a1", "b1", "c1"])
    }

    @Test func anIdleThreadTakesWaitingWorkOfARequesterWhoseHashRuns() async {
        let queue = HashingQueue(.init(threads: 2, waiting: 8, perRequester: 4))
        let runs = Runs()
        let latch = Latch()
        var events = runs.stream.makeAsyncIterator()
        #expect(queue.submit(for: Self.a, runs.job("a1", holding: latch)))
        #expect(await events.next() == "start a1")
        // The second thread does not idle while a2 waits behind a1.
        #expect(queue.submit(for: Self.a, runs.job("a2")))
        #expect(await events.next() == "start a2")
        #expect(await events.next() == "a2")
        latch.open()
        #expect(await events.next() == "a1")
    }
}

@Suite("Password hashing through the queue")
struct QueuedHashingTests {
    /// A harness whose KDF records the passwords in the order it hashes them and holds every
    /// hash of a password starting with `held` at `latch`.
    static func harness(_ latch: Latch, holding held: String = "", order: Recorded)
        async throws -> EngineHarness
    {
        try await EngineHarness(.memory) { configuration in
            configuration.keyDerivation = { password, salt, log2N, r, p, count in
                let text = String(decoding: password, as: UTF8.self)
                order.append(text)
                if text.hasPrefix(held) { latch.pass() }
                return try PasswordHasher.derive(
                    password, salt: salt, log2N: log2N, r: r, p: p, count: count)
            }
        }
    }

    @Test func parallelWrongPasswordsOfOneRequesterGetOnlyItsShareOfTheKDF() async throws {
        let latch = Latch()
        let h = try await Self.harness(latch, holding: "guess", order: Recorded())
        try await h.makeInstance()
        let engine = h.engine
        let share = h.configuration.kdfQueueLimitPerRequester
        let attacker = RequesterKey(high: 7, low: 7)
        let before = engine.hasher.runs.current
        let refused = AtomicCounter()
        let burst = Task {
            await withTaskGroup(of: Int.self) { group in
                for n in 0..<100 {
                    group.addTask {
                        do throws(EngineError) {
                            _ = try await engine.authenticate(
                                .basic(user: "shop", password: "guess \(n)"), instance: .shop,
                                allowBasic: true, requester: attacker)
                            return 200
                        } catch {
                            if error.retryAfter != nil { _ = refused.increment() }
                            return error.retryAfter == nil ? 401 : 429
                        }
                    }
                }
                return await group.reduce(into: [Int]()) { $0.append($1) }
            }
        }
        // While the first hash is held, the share's other jobs wait and the rest are refused
        // at once, without any work.
        await expectEventually("the burst is queued or refused") {
            refused.current == 100 - share
                && engine.hasher.queue.waitingCount == share - 1
        }
        #expect(engine.hasher.runs.current - before == 1)
        latch.open()
        let statuses = await burst.value
        #expect(statuses.count(where: { $0 == 401 }) == share)
        #expect(statuses.count(where: { $0 == 429 }) == 100 - share)
        #expect(engine.hasher.runs.current - before == share)
        await h.finish()
    }

    @Test func aFullShareRefusesAtOnceAndNewPasswordsUseTheSameQueue() async throws {
        let latch = Latch()
        let order = Recorded()
        let h = try await Self.harness(latch, order: order)
        let engine = h.engine
        let share = h.configuration.kdfQueueLimitPerRequester
        let attacker = RequesterKey(high: 7, low: 7)
        // The attacker fills its share: one hash held at the latch, the rest waiting.
        let held = Task {
            await withTaskGroup(of: Void.self) { group in
                for n in 0..<share {
                    group.addTask {
                        _ = try? await engine.createInstance(
                            .init(
                                id: InstanceID("held\(n)")!, name: "Held",
                                auth: .password("held \(n)")),
                            requester: attacker)
                    }
                }
            }
        }
        await expectEventually("the attacker's share is full") {
            engine.hasher.runs.current == 1
                && engine.hasher.queue.waitingCount == share - 1
        }
        // Hashing a new password for the same requester is refused at once, before any work.
        let refused = await #expect(throws: EngineError.self) {
            try await engine.createInstance(
                .init(id: InstanceID("more")!, name: "More", auth: .password("more pw")),
                requester: attacker)
        }
        #expect(refused?.retryAfter == 1)
        #expect(refused?.code == .merchantGenericUnauthorized)
        // Another requester's new password waits in the same queue, served next.
        let other = Task {
            try await engine.createInstance(
                .init(id: .shop, name: "Shop", auth: .password("shop pw")),
                requester: RequesterKey(high: 8, low: 8))
        }
        await expectEventually("the other requester waits") {
            engine.hasher.queue.waitingCount == share
        }
        latch.open()
        #expect(try await other.value)
        await held.value
        let ran = order.all
        #expect(ran.count == share + 1)
        #expect(ran.dropFirst().first == "shop pw")
        #expect(!ran.contains("more pw"))
        await h.finish()
    }
}
