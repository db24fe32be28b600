import EventLog
import Foundation
import Logging
import PostgresNIO

/// The tables of a ``PostgresEventLog``, in the schema `tallystick`, created by the first
/// server that opens an empty database and versioned in `tallystick.meta`.
///
/// ```
/// meta         key text → value bigint            ('schema-version' = 6)
/// head         one row: sequence, hash, recorded_at of the newest committed record
/// records      sequence bigint PK, stream text, stream_version bigint, event_id uuid UNIQUE,
///              record bytea (the LMDB log's record bytes, eventlog/FORMAT.md),
///              UNIQUE (stream, stream_version)
/// checkpoints  name text PK, sequence bigint, hash bytea, snapshot bytea,
///              parts bytea[] (version 5: the keys of its parts)
/// checkpoint_parts  (name text, key bytea) PK, bytes bytea   (version 5: ``Checkpoint``'s
///              parts, each saved in a statement of its own)
/// append_batch(...)  the one writing function (below)
/// commit_batch(...)  version 6: `append_batch` and `COMMIT`, as one `CALL` (below)
/// tree_nodes   sequence bigint PK, nodes bytea       (version 4: the Merkle tree's nodes
///              completed by each record, as LMDB's `tree-nodes`; ``MerkleTreeNodes``)
/// ```
///
/// A stored schema is never edited: a change gets a new version, with the statements that
/// upgrade the one before it, and a server refuses a version newer than it knows. Servers
/// sharing a database are upgraded together: the first to open it upgrades it, and a server
/// of the older build then refuses it.
///
/// Versions: 1, `append_batch` also compared each written stream's newest stored version
/// with the plan (`TS002`), an index scan per stream per batch; 2 leaves that to the head
/// check, which already refuses a batch when any record was committed since the head it was
/// planned on (so no stream can have moved), with the unique `(stream, stream_version)` as a
/// backstop. Version 2 writes about a quarter more events per second. 3 takes the head row
/// with `SELECT … FOR UPDATE` before comparing it: version 2's `UPDATE … WHERE sequence = old`
/// did not wait for a writer still committing the row (the version it could see did not
/// match, so it failed at once), which made every batch sent behind an uncommitted one fail;
/// `FOR UPDATE` waits for that commit and then reads the row it wrote. 4 adds `tree_nodes`,
/// which the sealer then fills from the records (``EventStore/extendMerkleTree(through:)``).
/// 5 adds checkpoint parts, so a large state's checkpoint rewrites only what changed.
/// 6 adds `commit_batch`, so that a batch is written and committed in one round trip with
/// the answer still following the flush (``PostgresCommitWriter``).
enum PostgresSchema {
    /// The version this build creates and reads.
    static let version: Int64 = 6

    /// The channel `append_batch` notifies on commit, with the new head's sequence.
    static let channel = "tallystick_records"

    /// SQLSTATE raised by `append_batch` when the head is no longer the one the batch was
    /// planned on (another server appended).
    static let headMoved = "TS001"
    /// The statements that create the newest schema in an empty database.
    private static let statements: [PostgresQuery] = [
        "CREATE SCHEMA IF NOT EXISTS tallystick",
        "CREATE TABLE tallystick.meta (key text PRIMARY KEY, value bigint NOT NULL)",
        """
        CREATE TABLE tallystick.head (
            only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
            sequence bigint NOT NULL, hash bytea NOT NULL, recorded_at bigint NOT NULL)
        """,
        "INSERT INTO tallystick.head VALUES (true, 0, decode(repeat('00', 32), 'hex'), 0)",
        """
        CREATE TABLE tallystick.records (
            sequence bigint PRIMARY KEY,
            stream text NOT NULL,
            stream_version bigint NOT NULL,
            event_id uuid NOT NULL UNIQUE,
            record bytea NOT NULL,
            UNIQUE (stream, stream_version))
        """,
        """
        CREATE TABLE tallystick.checkpoints (
            name text PRIMARY KEY, sequence bigint NOT NULL, hash bytea NOT NULL,
            snapshot bytea NOT NULL)
        """,
        appendBatch,
        treeNodes,
        checkpointParts,
        checkpointPartKeys,
        commitBatch,
        "INSERT INTO tallystick.meta VALUES ('schema-version', 6)",
    ]

    /// The statements that upgrade version *n* to *n + 1*, by *n*.
    private static let upgrades: [Int64: [PostgresQuery]] = [
        1: [
            """
            DROP FUNCTION tallystick.append_batch(
                bigint, bytea, bigint, bytea, bigint, text[], bigint[], bigint[], text[],
                bigint[], uuid[], bytea[])
            """,
            appendBatch,
            "UPDATE tallystick.meta SET value = 2 WHERE key = 'schema-version'",
        ],
        2: [
            appendBatch,
            "UPDATE tallystick.meta SET value = 3 WHERE key = 'schema-version'",
        ],
        3: [
            treeNodes,
            "UPDATE tallystick.meta SET value = 4 WHERE key = 'schema-version'",
        ],
        4: [
            checkpointParts,
            checkpointPartKeys,
            "UPDATE tallystick.meta SET value = 5 WHERE key = 'schema-version'",
        ],
        5: [
            commitBatch,
            "UPDATE tallystick.meta SET value = 6 WHERE key = 'schema-version'",
        ],
    ]

    /// The parts of checkpoints (version 5), as LMDB's `checkpoint-parts`.
    private static let checkpointParts: PostgresQuery = """
        CREATE TABLE IF NOT EXISTS tallystick.checkpoint_parts (
            name text NOT NULL, key bytea NOT NULL, bytes bytea NOT NULL,
            PRIMARY KEY (name, key))
        """

    /// The part keys of each checkpoint (version 5).
    private static let checkpointPartKeys: PostgresQuery =
        "ALTER TABLE tallystick.checkpoints ADD COLUMN IF NOT EXISTS parts bytea[] NOT NULL DEFAULT '{}'"

    /// The Merkle tree's stored nodes (version 4), as LMDB's `tree-nodes` (eventlog/FORMAT.md).
    private static let treeNodes: PostgresQuery =
        "CREATE TABLE IF NOT EXISTS tallystick.tree_nodes (sequence bigint PRIMARY KEY, nodes bytea NOT NULL)"

    /// Writes one batch in the caller's transaction (one statement's, when called alone):
    /// locks the head row (waiting for a writer that is committing it, then reading what that
    /// writer committed), raises TS001 unless it is at (old_sequence, old_hash), and moves it
    /// to the new one;
    /// inserts the records (a repeated event id or stream version violates a unique index);
    /// and notifies the followers of every server when the transaction commits.
    private static let appendBatch: PostgresQuery = """
        CREATE OR REPLACE FUNCTION tallystick.append_batch(
            old_sequence bigint, old_hash bytea, new_sequence bigint, new_hash bytea,
            new_recorded_at bigint, sequences bigint[], streams text[], versions bigint[],
            ids uuid[], records bytea[])
        RETURNS void LANGUAGE plpgsql AS $$
        DECLARE
            head_sequence bigint;
            head_hash bytea;
        BEGIN
            -- Waits for a writer that holds the row (and then reads its commit's version): a
            -- batch sent while the one before it commits queues behind it.
            SELECT h.sequence, h.hash INTO head_sequence, head_hash
                FROM tallystick.head h FOR UPDATE;
            IF head_sequence <> old_sequence OR head_hash <> old_hash
               OR new_sequence - old_sequence <> cardinality(sequences) THEN
                RAISE EXCEPTION 'the log head is no longer at %', old_sequence
                    USING ERRCODE = 'TS001';
            END IF;
            UPDATE tallystick.head
                SET sequence = new_sequence, hash = new_hash, recorded_at = new_recorded_at;
            INSERT INTO tallystick.records (sequence, stream, stream_version, event_id, record)
                SELECT * FROM unnest(sequences, streams, versions, ids, records);
            PERFORM pg_notify('tallystick_records', new_sequence::text);
        END
        $$
        """

    /// Writes one batch with `append_batch` and commits it (version 6), for a batch sent on
    /// its own. A procedure so that the `COMMIT` runs inside the `CALL`, before PostgreSQL
    /// reports the statement complete: the client's answer follows the flush. (A lone
    /// `SELECT append_batch(…)` is committed only at the protocol's `Sync`, after its
    /// completion was already queued for the client, which PostgresNIO takes as success even
    /// when the commit then fails.) The head's row lock is held for the insert and the flush
    /// only, not over a round trip to the client.
    private static let commitBatch: PostgresQuery = """
        CREATE OR REPLACE PROCEDURE tallystick.commit_batch(
            old_sequence bigint, old_hash bytea, new_sequence bigint, new_hash bytea,
            new_recorded_at bigint, sequences bigint[], streams text[], versions bigint[],
            ids uuid[], records bytea[])
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM tallystick.append_batch(
                old_sequence, old_hash, new_sequence, new_hash, new_recorded_at, sequences,
                streams, versions, ids, records);
            COMMIT;
        END
        $$
        """

    /// The statement that moves the head from `before` to `after` and inserts the records
    /// between them (the arrays are the rows' columns, in sequence order): a `CALL` of
    /// `commit_batch` when `committing` (alone, on a connection in no transaction), else a
    /// `SELECT` of `append_batch` (inside the caller's transaction).
    static func appendBatch(
        from before: LogHead, to after: LogHead, sequences: [Int64], streams: [String],
        versions: [Int64], ids: [UUID], records: [ByteBuffer], committing: Bool
    ) -> PostgresQuery {
        let (old, new) = (ByteBuffer(bytes: before.hash.bytes), ByteBuffer(bytes: after.hash.bytes))
        let (from, to) = (Int64(before.sequence), Int64(after.sequence))
        return committing
            ? """
            CALL tallystick.commit_batch(\(from), \(old), \(to), \(new), \(after.recordedAt), \
            \(sequences), \(streams), \(versions), \(ids), \(records))
            """
            : """
            SELECT tallystick.append_batch(\(from), \(old), \(to), \(new), \(after.recordedAt), \
            \(sequences), \(streams), \(versions), \(ids), \(records))
            """
    }

    /// Creates the schema when the database has none, else upgrades an older version (see
    /// the type's documentation) and checks it. Several servers starting at once are
    /// serialised by an advisory lock.
    /// - Throws: ``EventLogError/unsupportedFormat(found:supported:)`` for a version this
    ///   build does not know; `storage` for database errors.
    static func prepare(_ client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                "SELECT pg_advisory_xact_lock(hashtext('tallystick-schema'))", logger: logger)
            let exists =
                try await connection.query(
                    "SELECT to_regclass('tallystick.meta') IS NOT NULL", logger: logger
                ).collect().first?.decode(Bool.self) ?? false
            if !exists {
                for statement in statements {
                    try await connection.query(statement, logger: logger)
                }
            }
            func stored() async throws -> Int64? {
                try await connection.query(
                    "SELECT value FROM tallystick.meta WHERE key = 'schema-version'",
                    logger: logger
                ).collect().first?.decode(Int64.self)
            }
            var found = try await stored()
            while let older = found, older < version, let steps = upgrades[older] {
                for statement in steps { try await connection.query(statement, logger: logger) }
                found = try await stored()
            }
            guard let found, found == version else {
                throw EventLogError.unsupportedFormat(
                    found: UInt32(clamping: found ?? 0), supported: UInt32(version))
            }
        }
    }
}
