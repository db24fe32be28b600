import Crypto
import EventLog
import Foundation
import TextCoding
import TokenEngine

/// The tools of auditors (`eventlog/FORMAT.md`, "Signed tree heads and proofs"): the log's
/// public key, proofs that a record is in the log or that one signed head extends another,
/// their checks without the log, the export of the signed heads, and `verify --public-key`.
extension LogTool {
    // MARK: Keys

    /// The public key of the `tree-head.key` in `keyDirectory`, as 64 hex digits.
    /// - Throws: ``ToolError`` when the file is missing or not a key (never its contents).
    public static func publicKey(keyDirectory: String) throws -> String {
        let path = (keyDirectory as NSString).appendingPathComponent(TreeHeadSigner.keyFileName)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ToolError(
                "cannot read \(path): the server makes it at its first start (see --key-dir)")
        }
        guard data.count == 32, let signer = try? TreeHeadSigner(rawKey: Array(data)) else {
            throw ToolError("\(path) is not a tree-head key (32 bytes)")
        }
        return signer.publicKeyHex
    }

    /// Reads `--public-key`: 64 hex digits, or a file holding them.
    /// - Throws: ``ToolError`` when it is neither.
    public static func publicKey(_ text: String) throws -> Curve25519.Signing.PublicKey {
        if let key = TreeHeadSigner.publicKey(hex: text) { return key }
        guard let data = FileManager.default.contents(atPath: text),
            let key = TreeHeadSigner.publicKey(hex: String(decoding: data, as: UTF8.self))
        else {
            throw ToolError(
                "--public-key must be 64 hex digits or a file holding them (tallystick-log public-key)"
            )
        }
        return key
    }

    // MARK: Proofs

    /// A self-contained proof of record `sequence` against the signed head of `treeSize`
    /// (default: the newest).
    /// - Throws: ``ToolError`` when there is no such head or record.
    public static func prove(_ log: any EventStore, sequence: UInt64, treeSize: UInt64?)
        async throws -> InclusionProof
    {
        do {
            return try await log.inclusionProof(sequence: sequence, treeSize: treeSize)
        } catch let error as EventLogError {
            throw ToolError("cannot prove record \(sequence): \(error)")
        }
    }

    /// Checks a bundle written by `prove` with `key` alone; returns the record it proves and
    /// the head it was proved against.
    /// - Throws: ``ToolError`` saying why the proof is refused.
    public static func checkProof(_ text: String, key: Curve25519.Signing.PublicKey) throws
        -> (EventRecord, SignedTreeHead)
    {
        guard let json = try? JSONValue.parse(Array(text.utf8)),
            let proof = InclusionProof(json: json)
        else { throw ToolError("not an inclusion proof (a bundle of tallystick-log prove)") }
        do {
            return (try proof.check(with: key), proof.treeHead)
        } catch {
            throw ToolError("proof refused: \(error.reason)")
        }
    }

    /// A proof that the signed head of size `to` extends the one of size `from`.
    /// - Throws: ``ToolError`` when either was not signed.
    public static func proveConsistency(_ log: any EventStore, from: UInt64, to: UInt64)
        async throws -> ConsistencyProof
    {
        do {
            return try await log.consistencyProof(first: from, second: to)
        } catch let error as EventLogError {
            throw ToolError("cannot prove consistency from \(from) to \(to): \(error)")
        }
    }

    /// Checks a bundle written by `prove-consistency` with `key` alone.
    /// - Throws: ``ToolError`` saying why the proof is refused.
    public static func checkConsistency(_ text: String, key: Curve25519.Signing.PublicKey)
        throws -> ConsistencyProof
    {
        guard let json = try? JSONValue.parse(Array(text.utf8)),
            let proof = ConsistencyProof(json: json)
        else {
            throw ToolError(
                "not a consistency proof (a bundle of tallystick-log prove-consistency)")
        }
        do {
            try proof.check(with: key)
        } catch {
            throw ToolError("proof refused: \(error.reason)")
        }
        return proof
    }

    /// Writes every signed tree head as one JSON line (``SignedTreeHead/json``), oldest first.
    /// Returns how many.
    @discardableResult
    public static func treeHeads(_ log: any EventStore, write: (String) -> Void) async throws
        -> Int
    {
        let heads = try await log.signedTreeHeads()
        for head in heads { write(head.json) }
        return heads.count
    }

    // MARK: verify --public-key

    /// What ``verifyTreeHeads(_:key:)`` found.
    public struct TreeHeadReport: Sendable, Equatable {
        /// Signed heads checked (all of them when ``failure`` is `nil`).
        public var heads = 0
        public var failure: VerificationFailure?
    }

    /// Checks every signed tree head of the log: its signature with `key`, that it was
    /// recorded after the records it covers, and that its root is the root of those records,
    /// recomputed from the records themselves (not from the stored tree). Run it after the
    /// chain was verified: it reads the records without checking their links again.
    /// - Throws: ``EventLogError`` when the log cannot be read.
    public static func verifyTreeHeads(
        _ log: any EventStore, key: Curve25519.Signing.PublicKey
    ) async throws -> TreeHeadReport {
        var report = TreeHeadReport()
        var wanted = [(sequence: UInt64, head: SignedTreeHead)]()
        for record in try await log.readStream(SignedTreeHead.stream, from: 1) {
            guard let head = SignedTreeHead(record: record) else {
                report.failure = VerificationFailure(
                    sequence: record.sequence, reason: "signed tree head does not decode")
                return report
            }
            do {
                try head.verify(with: key)
            } catch {
                report.failure = VerificationFailure(
                    sequence: record.sequence, reason: error.reason)
                return report
            }
            guard head.treeSize < record.sequence else {
                report.failure = VerificationFailure(
                    sequence: record.sequence,
                    reason: "signed tree head of size \(head.treeSize) recorded before its records"
                )
                return report
            }
            wanted.append((record.sequence, head))
        }
        guard let largest = wanted.map(\.head.treeSize).max() else { return report }
        var next = 0
        var frontier = MerkleFrontier()
        var mismatch: VerificationFailure?
        func check() {
            while next < wanted.count, wanted[next].head.treeSize == frontier.size {
                let (sequence, head) = wanted[next]
                if mismatch == nil, head.root != frontier.root {
                    mismatch = VerificationFailure(
                        sequence: sequence,
                        reason:
                            "signed tree head of size \(head.treeSize) does not match the records: they were changed after it was signed"
                    )
                }
                next += 1
            }
        }
        wanted.sort { $0.head.treeSize < $1.head.treeSize }
        check()
        try await log.scan(from: 1, through: largest, verifyingChain: false) { view in
            frontier.add(.leaf(record: view.hash))
            check()
        }
        if let mismatch {
            report.failure = mismatch
            return report
        }
        guard next == wanted.count else {
            report.failure = VerificationFailure(
                sequence: wanted[next].sequence,
                reason:
                    "signed tree head of size \(wanted[next].head.treeSize) covers records the log does not have"
            )
            return report
        }
        report.heads = wanted.count
        return report
    }
}
