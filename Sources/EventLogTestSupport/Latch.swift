import Dispatch

/// A gate that threads outside Swift's cooperative pool (a KDF thread, a writer thread) wait
/// at: closed until ``open()``, then open for good. Tests hold work in progress with it and
/// release it when they have arranged what should happen meanwhile; nothing sleeps.
public final class Latch: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)

    public init() {}

    /// Blocks the calling thread until the latch is open. Never call it from a task: it
    /// would hold a thread of the cooperative pool.
    public func pass() {
        semaphore.wait()
        semaphore.signal()
    }

    /// Opens the latch: every thread waiting now or later passes.
    public func open() { semaphore.signal() }
}
