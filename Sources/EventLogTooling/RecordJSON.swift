import EventLog
import Foundation
import TextCoding
import TokenDomain

/// One line of `dump`: every envelope field, the payload as hex (what `load` reads back) and
/// decoded (for people; `null` for an unknown type), keys always in this order:
///
/// `{"sequence","format","stream","stream_version","event_id","type","recorded_at_us",
///   "payload","payload_hex","previous_hash","hash"}`
public enum RecordJSON {
    public static func line(_ record: EventRecord) -> String {
        JSONWriter.object { w in
            w.number("sequence", record.sequence)
            w.number("format", record.formatVersion)
            w.string("stream", record.stream)
            w.number("stream_version", record.streamVersion)
            w.string("event_id", record.eventID.description)
            w.string("type", record.type)
            w.number("recorded_at_us", record.recordedAt)
            if let event = try? EventCodec.decode(tag: record.type, payload: record.payload) {
                w.raw("payload", EventJSON.object(event))
            } else if let head = SignedTreeHead(record: record) {
                w.raw("payload", head.json)
            } else {
                w.raw("payload", "null")
            }
            w.string("payload_hex", Hex.encode(record.payload))
            w.string("previous_hash", record.previousHash.hex)
            w.string("hash", record.hash.hex)
        }
    }

    /// Reads a line written by ``line(_:)``. The decoded `payload` is ignored: the bytes
    /// come from `payload_hex`, and the hash check on load proves they are the original ones.
    /// - Throws: ``ToolError`` naming the field that is missing or malformed.
    ///
    /// Read with the project's strict JSON reader (``JSONValue``): integers must be written as
    /// integers within their type's range (no fractions, exponents or negative sequences).
    public static func record(from line: String, lineNumber: Int) throws -> EventRecord {
        func fail(_ what: String) -> ToolError { ToolError("line \(lineNumber): \(what)") }
        guard let object = try? JSONValue.parse(Array(line.utf8)), case .object = object else {
            throw fail("not a JSON object")
        }
        func unsigned(_ key: String) throws -> UInt64 {
            guard let n = object[key]?.unsignedInteger else {
                throw fail("\(key) missing or not a number")
            }
            return n
        }
        func text(_ key: String) throws -> String {
            guard case .string(let s)? = object[key] else {
                throw fail("\(key) missing or not a string")
            }
            return s
        }
        guard let format = object["format"]?.integer, format == Int64(RecordCodec.formatVersion)
        else {
            throw fail(
                "unsupported record format \(object["format"]?.integer.map(String.init) ?? "?")")
        }
        guard let id = EventID(uuidString: try text("event_id")) else {
            throw fail("event_id malformed")
        }
        guard let payload = Hex.decode(try text("payload_hex")) else {
            throw fail("payload_hex malformed")
        }
        guard let previous = ChainHash(hex: try text("previous_hash")) else {
            throw fail("previous_hash malformed")
        }
        guard let hash = ChainHash(hex: try text("hash")) else { throw fail("hash malformed") }
        guard let recordedAt = object["recorded_at_us"]?.integer else {
            throw fail("recorded_at_us missing or not a number")
        }
        return EventRecord(
            formatVersion: RecordCodec.formatVersion, sequence: try unsigned("sequence"),
            stream: try text("stream"), streamVersion: try unsigned("stream_version"),
            eventID: id, type: try text("type"), recordedAt: recordedAt, payload: payload,
            previousHash: previous, hash: hash)
    }
}
