import EventLog
import Foundation
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
            } else {
                w.raw("payload", "null")
            }
            w.string("payload_hex", hex(record.payload))
            w.string("previous_hash", record.previousHash.hex)
            w.string("hash", record.hash.hex)
        }
    }

    /// Reads a line written by ``line(_:)``. The decoded `payload` is ignored: the bytes
    /// come from `payload_hex`, and the hash check on load proves they are the original ones.
    /// - Throws: ``ToolError`` naming the field that is missing or malformed.
    public static func record(from line: String, lineNumber: Int) throws -> EventRecord {
        func fail(_ what: String) -> ToolError { ToolError("line \(lineNumber): \(what)") }
        guard let data = line.data(using: .utf8),
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else { throw fail("not a JSON object") }
        func integer(_ key: String) throws -> NSNumber {
            guard let n = object[key] as? NSNumber else {
                throw fail("\(key) missing or not a number")
            }
            return n
        }
        func text(_ key: String) throws -> String {
            guard let s = object[key] as? String else {
                throw fail("\(key) missing or not a string")
            }
            return s
        }
        guard try integer("format").intValue == Int(RecordCodec.formatVersion) else {
            throw fail("unsupported record format \(object["format"] ?? "")")
        }
        guard let id = EventID(uuidString: try text("event_id")) else {
            throw fail("event_id malformed")
        }
        guard let payload = bytes(fromHex: try text("payload_hex")) else {
            throw fail("payload_hex malformed")
        }
        guard let previous = ChainHash(hex: try text("previous_hash")) else {
            throw fail("previous_hash malformed")
        }
        guard let hash = ChainHash(hex: try text("hash")) else { throw fail("hash malformed") }
        return EventRecord(
            formatVersion: RecordCodec.formatVersion, sequence: try integer("sequence").uint64Value,
            stream: try text("stream"), streamVersion: try integer("stream_version").uint64Value,
            eventID: id,
            type: try text("type"), recordedAt: try integer("recorded_at_us").int64Value,
            payload: payload,
            previousHash: previous, hash: hash)
    }
}
