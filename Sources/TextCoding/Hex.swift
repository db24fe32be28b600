/// Lower-case hexadecimal: how the log, the tools and the digests write bytes as text, and
/// how they read them back (either case).
public enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// `bytes` as lower-case hex, two characters per byte.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        append(bytes, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the lower-case hex of `bytes` to `out`.
    public static func append(_ bytes: some Sequence<UInt8>, into out: inout [UInt8]) {
        out.reserveCapacity(out.count + bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
    }

    /// The two hex characters of one byte.
    public static func pair(_ byte: UInt8) -> (UInt8, UInt8) {
        (digits[Int(byte >> 4)], digits[Int(byte & 0x0F)])
    }

    /// The bytes `text` spells (upper or lower case), or `nil` when it is not an even number
    /// of hex digits.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else {
                return nil
            }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
