import Foundation

/// A named point in a change made on both sides (spec §9), or in a checkpoint, where the
/// server can be made to stop, so that a crash test kills it exactly there with SIGKILL and
/// proves that the repeated request (or the restart) repairs what the crash left (`TALLYSTICK_FAILPOINT=NAME`, read by
/// `tallystick serve`). When reached, the server prints `tallystick: failpoint NAME reached`
/// on standard output and the request waits forever; nothing else changes.
public enum Failpoint: String, Sendable, CaseIterable {
    /// Decided, nothing sent to the merchant yet.
    case beforeMerchant = "before-merchant"
    /// The merchant has the change (and the backend credential file, for a creation); the
    /// log does not yet.
    case afterMerchant = "after-merchant"
    /// Both sides have it; the client has not been answered.
    case afterAppend = "after-append"
    /// A checkpoint saved its first parts and not yet itself; requests go on being served
    /// (only the checkpoint waits), so a crash test can kill the server between two parts.
    case checkpointBetweenParts = "checkpoint-between-parts"
}

extension Failpoint {
    /// Stops here forever when this is `configured`.
    func reach(configured: Failpoint?) async {
        guard configured == self else { return }
        FileHandle.standardOutput.write(
            Data("tallystick: failpoint \(rawValue) reached\n".utf8))
        while true { try? await Task.sleep(for: .seconds(3_600)) }
    }
}

extension TokenEngine {
    /// Stops here forever when `point` is the configured failpoint.
    func reach(_ point: Failpoint) async {
        await point.reach(configured: configuration.failpoint)
    }
}
