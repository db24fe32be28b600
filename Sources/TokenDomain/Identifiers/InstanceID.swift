/// The id of one merchant instance: the `$ID` of `/instances/$ID/` and the name of the
/// instance's event stream.
///
/// A valid id matches `^[A-Za-z0-9][A-Za-z0-9_.@-]+$` and is at most ``maximumLength`` bytes:
/// ASCII only, 2 to 200 characters (spec §10.9). Ids order bytewise on their UTF-8 (the same
/// as ASCII order); every listing and the state digest use that order.
public struct InstanceID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The id as it appears in URLs; always valid.
    public let rawValue: String

    /// The longest id, in bytes: the longest stream id the event log stores (its
    /// `RecordCodec.maximumStreamLength`; the id is the stream's name and the key of its
    /// `stream-heads` entry, 200 of LMDB's 511 key bytes). Longer ids used to reach the log
    /// and fail there (500); now they are not ids at all (400 when created, 404 in a path).
    /// It is not lower because every id an earlier build stored (up to 200 bytes) must still
    /// be an id when its log is folded again.
    public static let maximumLength = 200

    /// The default instance, served at the root paths (spec §1).
    public static let admin = InstanceID(unchecked: "admin")

    /// Validates `rawValue`; `nil` when it does not match the id pattern.
    public init?(_ rawValue: String) {
        guard Self.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    private init(unchecked rawValue: String) {
        self.rawValue = rawValue
    }

    /// Whether `candidate` matches `^[A-Za-z0-9][A-Za-z0-9_.@-]+$` and has at most
    /// ``maximumLength`` bytes.
    public static func isValid(_ candidate: String) -> Bool {
        var count = 0
        for byte in candidate.utf8 {
            guard count < maximumLength else { return false }
            let alphanumeric =
                (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            if count == 0 {
                guard alphanumeric else { return false }
            } else {
                let punctuation =
                    byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
                    || byte == UInt8(ascii: "@") || byte == UInt8(ascii: "-")
                guard alphanumeric || punctuation else { return false }
            }
            count += 1
        }
        return count >= 2
    }

    public static func < (lhs: InstanceID, rhs: InstanceID) -> Bool {
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }

    public var description: String { rawValue }
}
