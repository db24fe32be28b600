/// A stored event that cannot be read: an unknown tag, a layout version this build does
/// not know, or malformed bytes. Says where, never what the bytes were.
public struct EventDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// The tag is not one of ``EventTag/allTags``.
        case unknownTag
        /// The payload's first byte names a layout this build cannot read.
        case unsupportedLayoutVersion(UInt8)
        /// The payload ends inside the field.
        case truncated
        /// The field holds a value outside its domain (unknown code, reserved bits set,
        /// serial 0, ...).
        case invalidValue
        /// A string field is not valid UTF-8.
        case invalidUTF8
        /// Bytes remain after the last field.
        case trailingBytes(Int)
    }

    /// The stored tag (cut to 64 bytes when unknown).
    public var tag: String
    /// The field being read, e.g. `description`.
    public var field: String
    /// Byte offset of the field in the payload.
    public var offset: Int
    public var reason: Reason

    public init(tag: String, field: String, offset: Int, reason: Reason) {
        self.tag = tag
        self.field = field
        self.offset = offset
        self.reason = reason
    }

    public var description: String {
        "cannot decode \(tag) at byte \(offset) (\(field)): \(reason)"
    }
}

extension EventDecodingError {
    /// The public form of a reader's failure in the payload of `tag`. Only on the error path:
    /// the strings are built here, never while decoding succeeds.
    init(tag: EventTag, failure: ByteReader.Failure) {
        let reason: Reason
        switch failure.reason {
        case .unsupportedLayoutVersion(let version): reason = .unsupportedLayoutVersion(version)
        case .truncated: reason = .truncated
        case .invalidValue: reason = .invalidValue
        case .invalidUTF8: reason = .invalidUTF8
        case .trailingBytes(let count): reason = .trailingBytes(count)
        }
        self.init(
            tag: tag.rawValue, field: "\(failure.field)", offset: failure.offset, reason: reason)
    }
}
