/// Taler's `Timestamp`: `{"t_s": seconds}` or `{"t_s": "never"}`. Times are kept in µs;
/// the wire has whole seconds, rounded down (also before 1970).
public struct TalerTimestamp: Hashable, Sendable {
    /// Seconds since the Unix epoch; `nil` for "never".
    public var seconds: Int64?

    public init(seconds: Int64?) { self.seconds = seconds }

    /// The timestamp of an instant in µs, its seconds rounded down.
    public init(micros: Int64) {
        seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
    }

    public static let never = TalerTimestamp(seconds: nil)

    /// Writes the object as the next value.
    public func write(into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("t_s")
        if let seconds { writer.integer(seconds) } else { writer.string("never") }
        writer.endObject()
    }

    /// Appends the object to `out`.
    public func append(into out: inout [UInt8]) {
        func put(_ text: StaticString) { text.withUTF8Buffer { out.append(contentsOf: $0) } }
        if let seconds {
            put(#"{"t_s":"#)
            JSONWriter.integer(seconds, into: &out)
            put("}")
        } else {
            put(#"{"t_s":"never"}"#)
        }
    }
}

extension JSONWriter {
    /// `"name":` and a ``TalerTimestamp``.
    public mutating func timestamp(_ name: StaticString, _ value: TalerTimestamp) {
        key(name)
        value.write(into: &self)
    }
}

extension TalerTimestamp {
    /// The timestamp of an instant in µs, or "never" for `nil`.
    public init(micros: Int64?) {
        if let micros { self.init(micros: micros) } else { self = .never }
    }
}
