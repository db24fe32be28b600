import EventLog
import Logging
import ServiceLifecycle
import TokenEngine

/// The server's sealer: every `interval`, signs and records the log's tree head when there
/// were appends (``TokenEngine/sealTreeHead(now:)``); it stops at a graceful shutdown.
///
/// A failed seal is logged (one line, without any key material) and tried again at the next
/// interval: requests are never held up by it. With several servers on one PostgreSQL log,
/// each one's sealer runs; the stream's expected version lets one head per round through.
struct TreeHeadSealing: Service {
    let engine: TokenEngine
    let clock: any LogClock
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
            await seal()
        }
    }

    private func seal() async {
        do {
            if let head = try await engine.sealTreeHead(now: clock.nowMicroseconds()) {
                logger.debug(
                    "signed tree head", metadata: ["tree-size": "\(head.treeSize)"])
            }
        } catch {
            logger.warning("signing the tree head failed: \(error)")
        }
    }
}
