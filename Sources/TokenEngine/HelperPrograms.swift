import Foundation
import Synchronization
import TokenDomain

/// The operator's helper programs (`HELPER_SMS`, `HELPER_EMAIL`): each is run with the address
/// as its only argument and the message on standard input; exit status 0 means sent.
///
/// Addresses pass ``ContactAddress``'s rules before they are stored (spec §10.3); as a
/// second line for addresses stored before those rules, an address that starts with `-` or
/// holds a control character is never passed to a helper (the transmission fails, 502).
///
/// A helper that exits otherwise, is killed by a signal, cannot be started or runs longer
/// than ``timeout`` (then it is killed) fails the transmission. Its output is discarded, so a
/// helper that echoes its input cannot leak a code into the server's log. Each run waits on
/// its own process only: nothing else of the server waits on a helper.
public struct HelperPrograms: TANSender {
    public let programs: [TANChannel: String]
    public let timeout: Duration

    public init(programs: [TANChannel: String], timeout: Duration = .seconds(30)) {
        self.programs = programs.filter { !$0.value.isEmpty }
        self.timeout = timeout
    }

    public var channels: Set<TANChannel> { Set(programs.keys) }

    /// Why a helper did not deliver. Never holds the message.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public func send(_ message: String, over channel: TANChannel, to address: String)
        async throws
    {
        guard let path = programs[channel] else {
            throw Failure(description: "no helper for \(channel.wireName)")
        }
        guard !address.hasPrefix("-"),
            !address.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw Failure(description: "the \(channel.wireName) address is unusable")
        }
        _ = Self.ignoreBrokenPipes
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = [address]
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let outcome = HelperOutcome()
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            outcome.install(continuation)
            process.terminationHandler = { finished in
                let clean = finished.terminationReason == .exit
                outcome.finish(.success(clean ? finished.terminationStatus : -1))
            }
            do {
                try process.run()
            } catch {
                outcome.finish(
                    .failure(Failure(description: "the \(channel.wireName) helper could not start"))
                )
                return
            }
            let pid = process.processIdentifier
            outcome.watch(pid: pid, after: timeout)
            // A helper that exits without reading makes this write fail (EPIPE, signals
            // ignored); its exit status decides.
            try? input.fileHandleForWriting.write(contentsOf: Array(message.utf8))
            try? input.fileHandleForWriting.close()
        }
        if outcome.timedOut {
            throw Failure(description: "the \(channel.wireName) helper did not finish in time")
        }
        guard status == 0 else {
            throw Failure(description: "the \(channel.wireName) helper failed (status \(status))")
        }
    }

    /// Writing to a helper that already exited must fail with EPIPE, not kill the server.
    private static let ignoreBrokenPipes: Void = {
        signal(SIGPIPE, SIG_IGN)
    }()
}

/// One helper run's answer: resumed once, by the process's exit; a timer kills it when late.
private final class HelperOutcome: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Int32, any Error>?
        var result: Result<Int32, any Error>?
        var timedOut = false
        var timer: Task<Void, Never>?
    }
    private let state = Mutex(State())

    var timedOut: Bool { state.withLock { $0.timedOut } }

    func install(_ continuation: CheckedContinuation<Int32, any Error>) {
        state.withLock { $0.continuation = continuation }
    }

    func finish(_ result: Result<Int32, any Error>) {
        let (continuation, timer): (CheckedContinuation<Int32, any Error>?, Task<Void, Never>?) =
            state.withLock { s in
                guard s.result == nil else { return (nil, nil) }
                s.result = result
                defer { s.continuation = nil }
                return (s.continuation, s.timer)
            }
        timer?.cancel()
        continuation?.resume(with: result)
    }

    /// Kills `pid` if it has not exited after `timeout`; its exit then finishes the run.
    func watch(pid: Int32, after timeout: Duration) {
        let timer = Task { [self] in
            try? await Task.sleep(for: timeout)
            guard !Task.isCancelled else { return }
            let late = state.withLock { s in
                guard s.result == nil else { return false }
                s.timedOut = true
                return true
            }
            if late { kill(pid, SIGKILL) }
        }
        let finished = state.withLock { s in
            s.timer = timer
            return s.result != nil
        }
        if finished { timer.cancel() }
    }
}
