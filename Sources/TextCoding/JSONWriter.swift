/// Writes JSON text as UTF-8 bytes, object members in the order they are written: the one
/// JSON writer (and string escaper) of the HTTP answers and of the offline tools.
///
/// Hand-written, not `JSONEncoder`: a listing of 20 tokens costs about 13 µs here against
/// 91 µs through `JSONEncoder` (BENCHMARKS.md, "Writing JSON"), and `state-at` writes a
/// million tokens; the output is byte-for-byte stable (`dump` → `load` → `dump` is identical).
///
/// Two ways to use it, on the same bytes: streaming (``beginObject()``, ``key(_:)-(String)``,
/// ``string(_:)``, ``endObject()``, commas placed for you), or members of an object being
/// built (``object(_:)``, ``string(_:_:)``, ``number(_:_:)``). The static functions append
/// single values to a byte array, for writers that build by hand where speed matters.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    private var needsComma = false

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    // MARK: streaming

    public mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes `"name":` and leaves the value to the next call.
    public mutating func key(_ name: String) {
        separate()
        Self.quote(name, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// Writes `"name":` for a name known at compile time (no escaping: it must not need any).
    public mutating func key(_ name: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func string(_ value: String) {
        separate()
        Self.quote(value, into: &bytes)
        needsComma = true
    }

    public mutating func integer(_ value: some BinaryInteger) {
        separate()
        Self.integer(value, into: &bytes)
        needsComma = true
    }

    public mutating func bool(_ value: Bool) {
        separate()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
        needsComma = true
    }

    public mutating func null() {
        separate()
        Self.null(into: &bytes)
        needsComma = true
    }

    /// A value that is already JSON bytes.
    public mutating func raw(_ json: some Sequence<UInt8>) {
        separate()
        bytes.append(contentsOf: json)
        needsComma = true
    }

    /// A parsed ``JSONValue``, members in their order.
    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let b): bool(b)
        case .number(let text): raw(text.utf8)
        case .string(let s): string(s)
        case .array(let items):
            beginArray()
            for item in items { self.value(item) }
            endArray()
        case .object(let members):
            beginObject()
            for member in members {
                key(member.key)
                self.value(member.value)
            }
            endObject()
        }
    }

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    // MARK: members of an object being built

    /// The JSON text of one object whose members `build` writes.
    public static func object(_ build: (inout JSONWriter) -> Void) -> String {
        String(decoding: objectBytes(build), as: UTF8.self)
    }

    /// ``object(_:)`` as bytes.
    public static func objectBytes(_ build: (inout JSONWriter) -> Void) -> [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        build(&writer)
        writer.endObject()
        return writer.bytes
    }

    /// `"name": value`, or `null` for `nil`.
    public mutating func string(_ name: StaticString, _ value: String?) {
        key(name)
        if let value { string(value) } else { null() }
    }

    /// `"name": value`, or `null` for `nil`.
    public mutating func number(_ name: StaticString, _ value: (some BinaryInteger)?) {
        key(name)
        if let value { integer(value) } else { null() }
    }

    /// A number under a name known only at run time (e.g. an event type).
    public mutating func number(dynamic name: String, _ value: some BinaryInteger) {
        key(name)
        integer(value)
    }

    public mutating func bool(_ name: StaticString, _ value: Bool) {
        key(name)
        bool(value)
    }

    /// `"name":` and a value that is already JSON text.
    public mutating func raw(_ name: StaticString, _ json: String) {
        key(name)
        raw(json.utf8)
    }

    /// `"name":` and a value that is already JSON bytes.
    public mutating func raw(_ name: StaticString, bytes json: [UInt8]) {
        key(name)
        raw(json)
    }

    /// `"name":` and an object whose members `build` writes.
    public mutating func object(_ name: StaticString, _ build: (inout JSONWriter) -> Void) {
        key(name)
        beginObject()
        build(&self)
        endObject()
    }

    /// `"name":` and an array of values already in JSON bytes.
    public mutating func array(_ name: StaticString, bytes items: [[UInt8]]) {
        key(name)
        beginArray()
        for item in items { raw(item) }
        endArray()
    }

    // MARK: single values into bytes

    /// Appends `"name":`, preceded by a comma unless `first`.
    public static func key(_ name: StaticString, first: Bool = false, into out: inout [UInt8]) {
        if !first { out.append(UInt8(ascii: ",")) }
        out.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: ":"))
    }

    public static func null(into out: inout [UInt8]) {
        out.append(contentsOf: [110, 117, 108, 108])
    }

    /// Appends the decimal digits of `value`, without going through `String`.
    public static func integer(_ value: some BinaryInteger, into out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = UInt64(value.magnitude)
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[23 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            out.append(contentsOf: buffer[(24 - count)...])
        }
    }

    /// `json` with every non-ASCII character as a `\u` escape (a surrogate pair above
    /// U+FFFF): the same JSON value, fit for an HTTP header line. Non-ASCII only occurs inside
    /// strings of valid JSON, where the escape means the same character.
    public static func asciiOnly(_ json: [UInt8]) -> String {
        var out = ""
        for scalar in String(decoding: json, as: UTF8.self).unicodeScalars {
            if scalar.isASCII {
                out.unicodeScalars.append(scalar)
            } else {
                for unit in String(scalar).utf16 {
                    let hex = String(unit, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                }
            }
        }
        return out
    }

    /// Appends `value` as a JSON string: the one escaper (`"`, `\`, and control characters;
    /// everything else, non-ASCII included, as UTF-8).
    public static func quote(_ value: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): out.append(contentsOf: [92, 92])
            case 0x0A: out.append(contentsOf: [92, 110])
            case 0x0D: out.append(contentsOf: [92, 114])
            case 0x09: out.append(contentsOf: [92, 116])
            case 0..<0x20:
                let (high, low) = Hex.pair(byte)
                out.append(contentsOf: [92, 117, 48, 48, high, low])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
