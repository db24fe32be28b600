/// Crockford's base32 as GNUnet and Taler write it: most significant bit first, the last
/// character padded with zero bits, no `=` padding.
enum Crockford32 {
    static let alphabet: [UInt8] = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    /// The value of each byte as a digit, or -1.
    private static let values: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (value, symbol) in alphabet.enumerated() { table[Int(symbol)] = Int8(value) }
        return table
    }()

    /// The number of characters for `byteCount` bytes.
    static func encodedCount(byteCount: Int) -> Int { (byteCount * 8 + 4) / 5 }

    static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        let count = encodedCount(byteCount: bytes.count)
        return String(unsafeUninitializedCapacity: count) { out in
            var accumulator: UInt32 = 0
            var bits = 0
            var written = 0
            for byte in bytes {
                accumulator = (accumulator << 8) | UInt32(byte)
                bits += 8
                while bits >= 5 {
                    bits -= 5
                    out[written] = alphabet[Int((accumulator >> UInt32(bits)) & 31)]
                    written += 1
                }
            }
            if bits > 0 {
                out[written] = alphabet[Int((accumulator << UInt32(5 - bits)) & 31)]
                written += 1
            }
            return written
        }
    }

    /// Decodes exactly `encodedCount(byteCount:)` canonical characters; `nil` on any other
    /// length, a symbol outside the alphabet, or non-zero padding bits.
    static func decode(_ text: some Collection<UInt8>, byteCount: Int) -> [UInt8]? {
        guard text.count == encodedCount(byteCount: byteCount) else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(byteCount)
        var accumulator: UInt32 = 0
        var bits = 0
        for symbol in text {
            let value = values[Int(symbol)]
            guard value >= 0 else { return nil }
            accumulator = (accumulator << 5) | UInt32(value)
            bits += 5
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        let padding = accumulator & ((1 << UInt32(bits)) - 1)
        guard padding == 0, out.count == byteCount else { return nil }
        return out
    }
}
