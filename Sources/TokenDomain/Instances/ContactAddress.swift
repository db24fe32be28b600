/// The rules an instance's `email` and `phone_number` pass before they are stored (spec
/// §10.3): a helper program gets the address as its first argument, so nothing that a shell
/// script or a mailer could read as an option, a second argument or a second header may get
/// through.
///
/// - E-mail: an RFC 5322 `addr-spec` of the dot-atom form, `local@domain`, at most 254
///   bytes (RFC 5321's path limit), local part at most 64. UTF-8 letters are allowed on both
///   sides (RFC 6531); whitespace, control and format characters (bidi overrides, zero-width
///   marks) are not, nor a leading `-`, quoted local parts or address literals.
/// - Phone: E.164. The visual separators space, `-`, `.`, `(` and `)` are dropped and a
///   leading `00` becomes `+`; what remains must be `+` and 7 to 15 digits, the first not 0
///   (as Taler's reference keeps numbers: `+` and digits only).
///
/// The empty string means "no address" and is never passed through these rules.
public enum ContactAddress {
    /// Bytes an e-mail address may have.
    public static let maximumEmailBytes = 254

    /// The address as it is stored for `channel`, or `nil` when it is unusable.
    public static func normalized(_ raw: String, for channel: TANChannel) -> String? {
        switch channel {
        case .email: email(raw)
        case .sms: phone(raw)
        }
    }

    /// `raw` when it is a usable e-mail address, else `nil`.
    public static func email(_ raw: String) -> String? {
        let bytes = raw.utf8
        guard !bytes.isEmpty, bytes.count <= maximumEmailBytes, bytes.first != UInt8(ascii: "-")
        else { return nil }
        guard raw.unicodeScalars.allSatisfy(isPrintable) else { return nil }
        let parts = raw.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let (local, domain) = (parts[0], parts[1])
        guard !local.isEmpty, local.utf8.count <= 64, !domain.isEmpty else { return nil }
        let atoms = local.split(separator: ".", omittingEmptySubsequences: false)
        guard atoms.allSatisfy({ !$0.isEmpty && $0.unicodeScalars.allSatisfy(isAtomText) }) else {
            return nil
        }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.allSatisfy(isDomainLabel) else { return nil }
        return raw
    }

    /// The E.164 form of `raw` (`+` and 7 to 15 digits), or `nil`.
    public static func phone(_ raw: String) -> String? {
        var digits: [UInt8] = []
        var sawPlus = false
        var sawAnything = false
        for byte in raw.utf8 {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "("),
                UInt8(ascii: ")"):
                continue
            case UInt8(ascii: "+"):
                guard !sawAnything else { return nil }
                sawPlus = true
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                digits.append(byte)
            default:
                return nil
            }
            sawAnything = true
        }
        if !sawPlus {
            guard digits.count > 2, digits[0] == UInt8(ascii: "0"), digits[1] == UInt8(ascii: "0")
            else { return nil }
            digits.removeFirst(2)
        }
        guard (7...15).contains(digits.count), digits[0] != UInt8(ascii: "0") else { return nil }
        return "+" + String(decoding: digits, as: UTF8.self)
    }

    /// Not whitespace, a control character, a format character (bidi, zero-width) or a
    /// separator.
    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .spaceSeparator, .lineSeparator, .paragraphSeparator,
            .surrogate, .privateUse, .unassigned:
            return false
        default:
            return !scalar.properties.isWhitespace
        }
    }

    /// RFC 5322 `atext`, or any non-ASCII character (RFC 6531).
    private static func isAtomText(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value >= 0x80 { return true }
        if ("0"..."9").contains(scalar) || ("a"..."z").contains(scalar)
            || ("A"..."Z").contains(scalar)
        {
            return true
        }
        return "!#$%&'*+-/=?^_`{|}~".unicodeScalars.contains(scalar)
    }

    /// A DNS label: 1 to 63 bytes of letters, digits and `-` (any non-ASCII letter counts,
    /// for internationalised names), neither starting nor ending with `-`.
    private static func isDomainLabel(_ label: Substring) -> Bool {
        guard !label.isEmpty, label.utf8.count <= 63, label.first != "-", label.last != "-" else {
            return false
        }
        return label.unicodeScalars.allSatisfy { scalar in
            scalar.value >= 0x80 || scalar == "-" || ("0"..."9").contains(scalar)
                || ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
        }
    }
}
