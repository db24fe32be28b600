/// Builds one JSON object as text with its keys in the order they are written, so that the
/// tools' output is byte-for-byte stable (`dump` → `load` → `dump` is identical).
struct JSONWriter {
    private(set) var text = "{"
    private var first = true

    private mutating func key(_ name: String) {
        if !first { text += "," }
        first = false
        JSONWriter.quote(name, into: &text)
        text += ":"
    }

    mutating func string(_ name: String, _ value: String?) {
        key(name)
        if let value { JSONWriter.quote(value, into: &text) } else { text += "null" }
    }

    mutating func number<T: BinaryInteger>(_ name: String, _ value: T?) {
        key(name)
        text += value.map { String($0) } ?? "null"
    }

    mutating func bool(_ name: String, _ value: Bool) {
        key(name)
        text += value ? "true" : "false"
    }

    /// A value that is already JSON text.
    mutating func raw(_ name: String, _ json: String) {
        key(name)
        text += json
    }

    mutating func object(_ name: String, _ build: (inout JSONWriter) -> Void) {
        var inner = JSONWriter()
        build(&inner)
        raw(name, inner.finished)
    }

    mutating func array(_ name: String, _ items: [String]) {
        raw(name, "[" + items.joined(separator: ",") + "]")
    }

    var finished: String { text + "}" }

    static func object(_ build: (inout JSONWriter) -> Void) -> String {
        var w = JSONWriter()
        build(&w)
        return w.finished
    }

    static func quote(_ value: String, into out: inout String) {
        out += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

/// Lower-case hex of bytes.
func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// Bytes of a hex string, or `nil`.
func bytes(fromHex text: String) -> [UInt8]? {
    let utf8 = Array(text.utf8)
    guard utf8.count % 2 == 0 else { return nil }
    func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
    var out = [UInt8]()
    out.reserveCapacity(utf8.count / 2)
    var i = 0
    while i < utf8.count {
        guard let hi = nibble(utf8[i]), let lo = nibble(utf8[i + 1]) else { return nil }
        out.append(hi << 4 | lo)
        i += 2
    }
    return out
}
