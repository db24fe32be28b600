/// Builds one JSON object as UTF-8 bytes with its keys in the order they are written, so
/// that the tools' output is byte-for-byte stable (`dump` → `load` → `dump` is identical).
/// Byte-based, because `state-at` writes a JSON object per token for millions of tokens.
struct JSONWriter {
    private(set) var bytes: [UInt8] = [UInt8(ascii: "{")]
    private var first = true

    private mutating func key(_ name: StaticString) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    private mutating func key(_ name: String) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        JSONWriter.quote(name, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func string(_ name: StaticString, _ value: String?) {
        key(name)
        if let value {
            JSONWriter.quote(value, into: &bytes)
        } else {
            JSONWriter.null(into: &bytes)
        }
    }

    mutating func number<T: BinaryInteger>(_ name: StaticString, _ value: T?) {
        key(name)
        if let value {
            JSONWriter.integer(value, into: &bytes)
        } else {
            JSONWriter.null(into: &bytes)
        }
    }

    /// A number under a key known only at run time (e.g. an event type).
    mutating func number<T: BinaryInteger>(dynamic name: String, _ value: T) {
        key(name)
        JSONWriter.integer(value, into: &bytes)
    }

    mutating func bool(_ name: StaticString, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: value ? Array("true".utf8) : Array("false".utf8))
    }

    /// A value that is already JSON text.
    mutating func raw(_ name: StaticString, _ json: String) {
        key(name)
        bytes.append(contentsOf: json.utf8)
    }

    /// A value that is already JSON bytes.
    mutating func raw(_ name: StaticString, bytes json: [UInt8]) {
        key(name)
        bytes.append(contentsOf: json)
    }

    mutating func object(_ name: StaticString, _ build: (inout JSONWriter) -> Void) {
        var inner = JSONWriter()
        build(&inner)
        raw(name, bytes: inner.finishedBytes)
    }

    mutating func array(_ name: StaticString, _ items: [String]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (i, item) in items.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: item.utf8)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// An array of values already in JSON bytes.
    mutating func array(_ name: StaticString, bytes items: [[UInt8]]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (i, item) in items.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: item)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// An array of `count` values, each written straight into the output by `element`.
    mutating func array(_ name: StaticString, count: Int, element: (Int, inout [UInt8]) -> Void) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for i in 0..<count {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            element(i, &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// Appends `"name":` for writers that build a value by hand.
    static func key(_ name: StaticString, first: Bool = false, into out: inout [UInt8]) {
        if !first { out.append(UInt8(ascii: ",")) }
        out.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: ":"))
    }

    var finishedBytes: [UInt8] { bytes + [UInt8(ascii: "}")] }
    var finished: String { String(decoding: finishedBytes, as: UTF8.self) }

    static func object(_ build: (inout JSONWriter) -> Void) -> String {
        var w = JSONWriter()
        build(&w)
        return w.finished
    }

    static func objectBytes(_ build: (inout JSONWriter) -> Void) -> [UInt8] {
        var w = JSONWriter()
        build(&w)
        return w.finishedBytes
    }

    static func null(into out: inout [UInt8]) { out.append(contentsOf: [110, 117, 108, 108]) }

    static func integer<T: BinaryInteger>(_ value: T, into out: inout [UInt8]) {
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

    static func quote(_ value: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): out.append(contentsOf: [92, 92])
            case 0x0A: out.append(contentsOf: [92, 110])
            case 0x0D: out.append(contentsOf: [92, 114])
            case 0x09: out.append(contentsOf: [92, 116])
            case 0..<0x20:
                let digits = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [
                    92, 117, 48, 48, digits[Int(byte >> 4)], digits[Int(byte & 0xF)],
                ])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
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
