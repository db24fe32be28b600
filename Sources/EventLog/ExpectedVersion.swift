/// What an append expects the stream's current version to be (optimistic concurrency).
///
/// Stream versions count a stream's events: the first event of a stream has version 1 and a
/// stream with no events is at version 0.
public enum ExpectedVersion: Sendable, Equatable, CustomStringConvertible {
    /// Append whatever the stream's version is.
    case any
    /// Append only if the stream is exactly at this version (0: the stream has no events).
    case exact(UInt64)

    /// The stream must not exist yet.
    public static let noStream = ExpectedVersion.exact(0)

    func admits(_ current: UInt64) -> Bool {
        switch self {
        case .any: true
        case .exact(let v): v == current
        }
    }

    public var description: String {
        switch self {
        case .any: "any"
        case .exact(let v): "\(v)"
        }
    }
}
