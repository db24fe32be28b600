/// A state snapshot that cannot be read: a layout version this build does not know, or
/// malformed bytes. Says where, never what the bytes were.
///
/// The snapshot is a cache of the fold: the engine should discard it and fold the log from
/// the start (then write a new snapshot), not refuse to start.
public struct SnapshotDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// The first byte names a layout this build cannot read.
        case unsupportedLayoutVersion(UInt8)
        /// The bytes end inside the field, or a count promises more items than bytes remain.
        case truncated
        /// The field holds a value outside its domain, or one the fold could never produce:
        /// an unknown code, reserved bits set, an invalid or out-of-order instance id, a
        /// token hash held twice, credential generation 0, a time where the layout needs 0.
        case invalidValue
        /// A string field is not valid UTF-8.
        case invalidUTF8
        /// Bytes remain after the last instance.
        case trailingBytes(Int)
    }

    /// The field being read, e.g. `token.hash`.
    public var field: String
    /// Byte offset of the field in the snapshot.
    public var offset: Int
    public var reason: Reason

    public init(field: String, offset: Int, reason: Reason) {
        self.field = field
        self.offset = offset
        self.reason = reason
    }

    /// The public form of a reader's failure.
    init(_ failure: ByteReader.Failure) {
        let reason: Reason
        switch failure.reason {
        case .unsupportedLayoutVersion(let version): reason = .unsupportedLayoutVersion(version)
        case .truncated: reason = .truncated
        case .invalidValue: reason = .invalidValue
        case .invalidUTF8: reason = .invalidUTF8
        case .trailingBytes(let count): reason = .trailingBytes(count)
        }
        self.init(field: "\(failure.field)", offset: failure.offset, reason: reason)
    }

    public var description: String {
        "cannot decode state snapshot at byte \(offset) (\(field)): \(reason)"
    }
}
