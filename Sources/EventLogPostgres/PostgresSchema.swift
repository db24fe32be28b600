import EventLog
import Logging
import PostgresNIO

/// The tables of a ``PostgresEventLog``, in the schema `tallystick`, created by the first
/// server that opens an empty database and versioned in `tallystick.meta`.
///
/// ```
/// meta         key text → value bigint            ('schema-version' = 2)
/// head         one row: sequence, hash, recorded_at of the newest committed record
/// records      sequence bigint PK, stream text, stream_version bigint, event_id uuid UNIQUE,
///              record bytea (the LMDB log's record bytes, eventlog/FORMAT.md),
///              UNIQUE (stream, stream_version)
/// checkpoints  name text PK, sequence bigint, hash bytea, snapshot bytea
/// append_batch(...)  the one writing function (below)
/// tree_nodes   sequence bigint PK, nodes bytea       (version 2: the Merkle tree's nodes
///              completed by each record, as LMDB's `tree-nodes`; ``MerkleTreeNodes``)
/// ```
///
/// Version 2 only adds `tree_nodes`: a version-1 database is upgraded in place by the first
/// server of this build that opens it (under the same lock), and the tree is then filled from
/// the records by the sealer. A server of an older build refuses a version-2 database.
///
/// A stored schema is never edited: a change gets a new version, and a server refuses a
/// version newer than it knows.
enum PostgresSchema {
    /// The version this build creates and reads.
    static let version: Int64 = 2

    /// The channel `append_batch` notifies on commit, with the new head's sequence.
    static let channel = "tallystick_records"

    /// SQLSTATE raised by `append_batch` when the head is no longer the one the batch was
    /// planned on (another server appended).
    static let headMoved = "TS001"
    /// SQLSTATE raised when a stream is not at the version the batch was planned on.
    static let streamMoved = "TS002"

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
        // Writes one batch in the caller's transaction (one statement's, when called alone):
        // moves the head from (old_sequence, old_hash) to the new one, or raises TS001 when
        // it is no longer there (the UPDATE waits for another writer's lock and re-reads the
        // row); checks that each stream the batch writes is at the version it was planned on
        // (TS002); inserts the records (a repeated event id violates the unique index); and
        // notifies the followers of every server when the transaction commits.
        """
        CREATE FUNCTION tallystick.append_batch(
            old_sequence bigint, old_hash bytea, new_sequence bigint, new_hash bytea,
            new_recorded_at bigint, check_streams text[], check_versions bigint[],
            sequences bigint[], streams text[], versions bigint[], ids uuid[], records bytea[])
        RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE tallystick.head
                SET sequence = new_sequence, hash = new_hash, recorded_at = new_recorded_at
                WHERE sequence = old_sequence AND hash = old_hash
                  AND new_sequence - old_sequence = cardinality(sequences);
            IF NOT FOUND THEN
                RAISE EXCEPTION 'the log head is no longer at %', old_sequence
                    USING ERRCODE = 'TS001';
            END IF;
            IF EXISTS (
                SELECT 1 FROM unnest(check_streams, check_versions) AS c(stream, version)
                WHERE coalesce((SELECT max(r.stream_version) FROM tallystick.records r
                                WHERE r.stream = c.stream), 0) <> c.version)
            THEN
                RAISE EXCEPTION 'a stream is not at its planned version' USING ERRCODE = 'TS002';
            END IF;
            INSERT INTO tallystick.records (sequence, stream, stream_version, event_id, record)
                SELECT * FROM unnest(sequences, streams, versions, ids, records);
            PERFORM pg_notify('tallystick_records', new_sequence::text);
        END
        $$
        """,
        "INSERT INTO tallystick.meta VALUES ('schema-version', 1)",
    ]

    /// What turns version 1 into version 2. Never edited: a later change gets its own list.
    private static let version2: [PostgresQuery] = [
        "CREATE TABLE tallystick.tree_nodes (sequence bigint PRIMARY KEY, nodes bytea NOT NULL)",
        "UPDATE tallystick.meta SET value = 2 WHERE key = 'schema-version'",
    ]

    /// Creates the schema when the database has none, else checks its version. Several
    /// servers starting at once are serialised by an advisory lock.
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
            var found = try await connection.query(
                "SELECT value FROM tallystick.meta WHERE key = 'schema-version'", logger: logger
            ).collect().first?.decode(Int64.self)
            if found == 1 {
                for statement in version2 {
                    try await connection.query(statement, logger: logger)
                }
                found = 2
            }
            guard let found, found == version else {
                throw EventLogError.unsupportedFormat(
                    found: UInt32(clamping: found ?? 0), supported: UInt32(version))
            }
        }
    }
}
