import TextCoding

/// The idempotency id of one event: 16 bytes chosen by the caller, unique across the log.
///
/// Appending an event whose id is already in the log writes nothing and returns the original
/// position, so a caller that lost the answer to an append can retry it safely.
public struct EventID: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// A fresh id in the version-7 UUID layout: 48 bits of Unix milliseconds, then 74 random
    /// bits from the system's secure generator.
    ///
    /// Time-ordered ids land next to each other in the log's event-id index, so a commit dirties
    /// a few B-tree pages instead of one per event (random ids made durable appends several
    /// times slower in the benchmark).
    public static func random() -> EventID {
        var g = SystemRandomNumberGenerator()
        let millis = UInt64(max(0, SystemLogClock().nowMicroseconds() / 1_000)) & 0xFFFF_FFFF_FFFF
        let high = millis << 16 | 0x7000 | (g.next() & 0x0FFF)
        return EventID(high: high, low: (g.next() & ~(3 << 62)) | (2 << 62))
    }

    /// Reads 16 bytes (big-endian words, so the bytes read like the UUID text).
    public init(bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count >= 16)
        high = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        low = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
    }

    /// Parses the 8-4-4-4-12 hex form.
    public init?(uuidString: String) {
        let hex = uuidString.filter { $0 != "-" }
        guard hex.utf8.count == 32, let bytes = Hex.decode(hex) else { return nil }
        self = bytes.withUnsafeBytes { EventID(bytes: $0) }
    }

    /// The 16 bytes as stored.
    public var bytes: [UInt8] {
        var be = (high.bigEndian, low.bigEndian)
        return withUnsafeBytes(of: &be) { Array($0) }
    }

    /// The 8-4-4-4-12 lower-case hex form.
    public var description: String {
        let all = Array(Hex.encode(bytes))
        return String(all[0..<8]) + "-" + String(all[8..<12]) + "-" + String(all[12..<16]) + "-"
            + String(all[16..<20]) + "-" + String(all[20..<32])
    }
}
