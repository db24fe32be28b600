import TokenEngine

/// Reads the `Authorization` header into a ``PresentedCredential`` (spec §3).
///
/// - `Basic base64(user:password)`, nothing after the base64 but spaces or tabs (spec
///   §10.10: `Basic <base64> junk` is malformed, not the credential in front of the junk);
/// - `Bearer secret-token:...`, the scheme word in any case and followed by one or more
///   spaces;
/// - a bare `secret-token:...` with no scheme (the PHP SDK's managed mode).
///
/// Anything else (another scheme, a bearer value without `secret-token:`, bad base64) is
/// `nil`: malformed. Endpoints that need a credential answer 401 for it; endpoints that need
/// none never read the header. The parsed values are secrets: never log them.
enum AuthorizationHeader {
    static let secretTokenPrefix = "secret-token:"

    static func parse(_ header: String?) -> PresentedCredential? {
        guard let header else { return PresentedCredential.none }
        let trimmed = header.drop { $0 == " " || $0 == "\t" }
        if hasPrefixIgnoringCase(trimmed, secretTokenPrefix) {
            return secretToken(trimmed)
        }
        guard let space = trimmed.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return nil }
        let scheme = trimmed[..<space]
        let value = trimmed[space...].drop { $0 == " " || $0 == "\t" }
        if equalsIgnoringCase(scheme, "bearer") {
            guard hasPrefixIgnoringCase(value, secretTokenPrefix) else { return nil }
            return secretToken(value)
        }
        if equalsIgnoringCase(scheme, "basic") {
            let encoded = value.prefix { $0 != " " && $0 != "\t" }
            guard value[encoded.endIndex...].allSatisfy({ $0 == " " || $0 == "\t" }),
                let decoded = Base64.decode(encoded),
                let text = String(validating: decoded, as: UTF8.self),
                let colon = text.firstIndex(of: ":")
            else { return nil }
            return .basic(
                user: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
        }
        return nil
    }

    /// The text after `secret-token:`, with trailing spaces removed (header values may end
    /// with whitespace on the wire).
    private static func secretToken(_ value: Substring) -> PresentedCredential? {
        var rest = value.dropFirst(secretTokenPrefix.count)
        while let last = rest.last, last == " " || last == "\t" { rest = rest.dropLast() }
        guard !rest.isEmpty else { return nil }
        return .secretToken(String(rest))
    }

    /// ASCII case-insensitive prefix test on UTF-8 (every request with credentials runs it).
    private static func hasPrefixIgnoringCase(_ text: Substring, _ prefix: String) -> Bool {
        var rest = text.utf8.makeIterator()
        for expected in prefix.utf8 {
            guard let byte = rest.next(), lowercase(byte) == expected else { return false }
        }
        return true
    }

    private static func equalsIgnoringCase(_ text: Substring, _ word: String) -> Bool {
        text.utf8.count == word.utf8.count && hasPrefixIgnoringCase(text, word)
    }

    private static func lowercase(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }
}

/// Standard base64 (RFC 4648 §4), padding optional, no whitespace inside.
enum Base64 {
    private static let table: [UInt8: UInt8] = {
        var table = [UInt8: UInt8]()
        for (index, byte) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8
            .enumerated()
        {
            table[byte] = UInt8(index)
        }
        return table
    }()

    static func decode(_ text: Substring) -> [UInt8]? {
        var bytes = Array(text.utf8)
        while bytes.last == UInt8(ascii: "=") { bytes.removeLast() }
        guard bytes.count % 4 != 1 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            guard let value = table[byte] else { return nil }
            buffer = buffer << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return out
    }

    static func encode(_ bytes: [UInt8]) -> String {
        let alphabet = Array(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out = [UInt8]()
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var value: UInt32 = 0
            for byte in chunk { value = value << 8 | UInt32(byte) }
            value <<= UInt32(8 * (3 - chunk.count))
            for position in 0..<4 {
                if position <= chunk.count {
                    out.append(alphabet[Int((value >> UInt32(18 - 6 * position)) & 63)])
                } else {
                    out.append(UInt8(ascii: "="))
                }
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
