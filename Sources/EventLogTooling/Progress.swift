import Foundation

/// A progress bar on standard error, drawn only when standard error is a terminal.
public final class Progress: @unchecked Sendable {
    private let total: UInt64
    private let label: String
    private let enabled: Bool
    private var lastDrawn = -1

    public init(label: String, total: UInt64, enabled: Bool = isatty(STDERR_FILENO) == 1) {
        self.label = label
        self.total = max(total, 1)
        self.enabled = enabled
    }

    /// Redraws when the shown percentage changes.
    public func update(_ done: UInt64) {
        guard enabled else { return }
        let percent = Int(min(done, total) * 100 / total)
        guard percent != lastDrawn else { return }
        lastDrawn = percent
        let filled = percent * 30 / 100
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled)
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(percent)%".utf8))
    }

    /// Clears the bar.
    public func finish() {
        guard enabled, lastDrawn >= 0 else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
