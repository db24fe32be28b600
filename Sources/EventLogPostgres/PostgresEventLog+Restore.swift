import EventLog
import Foundation
import PostgresNIO

extension PostgresEventLog {
    /// Writes records taken from another log (a dump being loaded) into this empty store,
    /// verbatim: same sequences, times, ids and hashes, each checked by ``RestoredChain``, so
    /// a dump of an LMDB log loads here and dumps identically. Records are written `batch`
    /// at a time, each batch one call of `commit_batch` (committed on its own): followers of
    /// other servers see the records as they commit.
    /// - Throws: ``EventLogError/invalidEvent(_:)`` when the store is not empty or naming the
    ///   first record that does not fit (the records before it stay: drop the schema
    ///   `tallystick` and load again), ``EventLogError/unavailable(_:)`` and `storage` for the
    ///   database's failures.
    public func restore(_ records: some Sequence<EventRecord>, batch: Int = 10_000) async throws {
        guard try await head() == .empty else {
            throw EventLogError.invalidEvent("restore needs an empty log")
        }
        var chain = RestoredChain()
        var written = LogHead.empty
        var pending = [RestoredChain.Admitted]()
        pending.reserveCapacity(batch)
        func flush() async throws {
            guard !pending.isEmpty else { return }
            let query = PostgresSchema.appendBatch(
                from: written, to: chain.head,
                sequences: pending.map { Int64($0.record.sequence) },
                streams: pending.map(\.record.stream),
                versions: pending.map { Int64($0.record.streamVersion) },
                ids: pending.map(\.record.eventID.uuid),
                records: pending.map { ByteBuffer(bytes: $0.bytes) }, committing: true)
            pending.removeAll(keepingCapacity: true)
            // A batch of ten thousand records takes longer than an append.
            try await guarded(within: max(databaseTimeout, .seconds(300))) { [self] in
                _ = try await client.query(query, logger: logger).collect()
            }
            written = chain.head
            hub.notify()
        }
        for record in records {
            pending.append(try chain.admit(record))
            if pending.count >= batch { try await flush() }
        }
        try await flush()
    }
}
