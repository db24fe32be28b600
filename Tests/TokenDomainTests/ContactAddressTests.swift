import Testing

@testable import TokenDomain

/// Spec §10.3: what an instance's `email` and `phone_number` may be, since a helper program
/// gets the address as its first argument.
@Suite("Contact address rules")
struct ContactAddressTests {
    static let goodEmails = [
        "shop@example.com", "a.b+tag@sub.example.co.uk", "o'brien@example.ie", "x@localhost",
        "kundin@bäckerei.de", "用户@例子.广告", String(repeating: "a", count: 64) + "@example.com",
    ]

    @Test("usable e-mail addresses are kept as given", arguments: goodEmails)
    func goodEmail(_ address: String) {
        #expect(ContactAddress.email(address) == address)
    }

    static let badEmails = [
        "", "-oProxyCommand=x@example.com", "--exec=/bin/sh", "-@example.com",
        "shop@example.com\nBcc: x@y.z", "shop@exa\rmple.com", "a b@example.com", "a\tb@example.com",
        "shop@example.com ", " shop@example.com", "shop\u{00A0}@example.com",
        "shop\u{202E}moc.elpmaxe@x.y", "sh\u{200B}op@example.com", "shop@", "@example.com",
        "shop", "a@b@c.d", "a..b@example.com", ".a@example.com", "a.@example.com",
        "\"quoted\"@example.com", "shop@[127.0.0.1]", "shop@-example.com", "shop@example-.com",
        "shop@example..com", "shop@example.com.", "a(b)@example.com", "a,b@example.com",
        String(repeating: "a", count: 65) + "@example.com",
        "a@" + String(repeating: "b", count: 64) + ".com",
        "a@" + Array(repeating: String(repeating: "b", count: 60), count: 5).joined(separator: "."),
        "sh\u{0}op@example.com",
    ]

    @Test("unusable e-mail addresses are refused", arguments: badEmails)
    func badEmail(_ address: String) {
        #expect(ContactAddress.email(address) == nil)
    }

    static let phones: [(String, String?)] = [
        ("+41790000000", "+41790000000"),
        ("+41 79 000 00 00", "+41790000000"),
        ("+1 (415) 555-0123", "+14155550123"),
        ("+49.30.1234567", "+49301234567"),
        ("0041 79 000 00 00", "+41790000000"),
        ("+1234567", "+1234567"),
        ("+123456789012345", "+123456789012345"),
        ("+123456", nil),
        ("+1234567890123456", nil),
        ("+0790000000", nil),
        ("41790000000", nil),
        ("079 000 00 00", nil),
        ("-41790000000", nil),
        ("+41-79-000\n0000", nil),
        ("+41 79 000 00 00 ext. 5", nil),
        ("+41+790000000", nil),
        ("+４１７９０００００００", nil),
        ("--exec=/bin/sh", nil),
        ("", nil),
    ]

    @Test("phone numbers are normalised to E.164", arguments: phones)
    func phone(_ raw: String, expected: String?) {
        #expect(ContactAddress.phone(raw) == expected)
    }

    @Test func channelsPickTheirRule() {
        #expect(ContactAddress.normalized("+41 79 000 00 00", for: .sms) == "+41790000000")
        #expect(ContactAddress.normalized("+41 79 000 00 00", for: .email) == nil)
        #expect(ContactAddress.normalized("shop@example.com", for: .sms) == nil)
        #expect(ContactAddress.maximumEmailBytes == 254)
    }
}
