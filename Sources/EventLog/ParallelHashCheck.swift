import Foundation
import Synchronization

/// Checks records' stored hashes on other cores while the scanning thread goes on.
///
/// SHA-256 of a ~300-byte record costs about 0.5 µs here, more than reading and decoding it,
/// and one record's hash check does not depend on any other's: record *n* checks if
/// SHA-256(its stored previous hash ‖ its canonical bytes) equals its stored hash. The scanning
/// thread checks the links (each stored previous hash equals the stored hash before it), which
/// is a comparison; together they are the whole chain check.
///
/// The scanning thread hands over chunks of record buffers that point into its own read
/// transaction's map; it must keep that transaction open until ``finish()`` returned. Helper
/// threads take chunks from a queue; the scanning thread also hashes a queued chunk after each
/// chunk it scanned (``helpWithOne()``), so the work balances over every core.
final class ParallelHashCheck: @unchecked Sendable {
    struct Chunk {
        var records: [(sequence: UInt64, bytes: UnsafeRawBufferPointer)] = []
    }

    /// Records per chunk.
    static let chunkSize = 2_048

    private let condition = NSCondition()
    // Guarded by `condition`:
    private var queue: [Chunk] = []
    private var head = 0
    private var busy = 0
    private var closed = false
    private var running = 0

    /// The lowest sequence whose hash does not check, and why.
    private let failure = Mutex<(sequence: UInt64, reason: String)?>(nil)

    /// Starts `helpers` threads (none: every chunk is hashed by the scanning thread).
    init(helpers: Int) {
        running = helpers
        for i in 0..<helpers {
            let thread = Thread { [self] in work() }
            thread.name = "tallystick-hash-\(i)"
            thread.start()
        }
    }

    /// Helpers beside the scanning thread: one per other core, at most 7.
    static var defaultHelpers: Int {
        max(0, min(ProcessInfo.processInfo.activeProcessorCount - 1, 7))
    }

    func submit(_ chunk: Chunk) {
        condition.lock()
        queue.append(chunk)
        condition.signal()
        condition.unlock()
    }

    /// Hashes one queued chunk on the calling thread when the helpers have fallen behind
    /// (more than one chunk waiting); the newest chunk is left for a helper to pick up.
    func helpWithOne() {
        guard let chunk = take(wait: false, leaving: 1) else { return }
        check(chunk)
        done()
    }

    /// Hashes what is still queued, waits for the helpers, and returns the first failure.
    func finish() -> (sequence: UInt64, reason: String)? {
        while let chunk = take(wait: false) {
            check(chunk)
            done()
        }
        condition.lock()
        closed = true
        condition.broadcast()
        while busy > 0 || running > 0 { condition.wait() }
        condition.unlock()
        return failure.withLock { $0 }
    }

    private func take(wait: Bool, leaving: Int = 0) -> Chunk? {
        condition.lock()
        defer { condition.unlock() }
        while queue.count - head <= leaving {
            if !wait || closed { return nil }
            condition.wait()
        }
        let chunk = queue[head]
        queue[head] = Chunk()
        head += 1
        busy += 1
        return chunk
    }

    private func done() {
        condition.lock()
        busy -= 1
        condition.broadcast()
        condition.unlock()
    }

    private func work() {
        while let chunk = take(wait: true) {
            check(chunk)
            done()
        }
        condition.lock()
        running -= 1
        condition.broadcast()
        condition.unlock()
    }

    private func check(_ chunk: Chunk) {
        for (sequence, bytes) in chunk.records {
            let n = bytes.count
            guard n >= RecordCodec.fixedSize else { continue }  // the scanning thread reports it
            let canonical = UnsafeRawBufferPointer(rebasing: bytes[0..<(n - 64)])
            let previous = ChainHash(
                bytes: UnsafeRawBufferPointer(rebasing: bytes[(n - 64)..<(n - 32)]))
            let stored = ChainHash(bytes: UnsafeRawBufferPointer(rebasing: bytes[(n - 32)..<n]))
            if RecordCodec.chainHash(previous: previous, canonical: canonical) != stored {
                failure.withLock { f in
                    if f == nil || f!.sequence > sequence {
                        f = (sequence, "stored hash does not match the record's contents")
                    }
                }
                return
            }
        }
    }
}
