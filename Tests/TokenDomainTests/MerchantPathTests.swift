import Testing

@testable import TokenDomain

/// Path normalisation for forward-auth (spec §9): what is decoded, what is kept, what is
/// refused, and which instance a path addresses.
@Suite("Merchant paths (spec §9 normalisation)")
struct MerchantPathTests {
    static let shop = InstanceID("shop1")!

    /// Targets that normalise: (target, instance, segments).
    static let accepted: [(String, InstanceID, [String])] = [
        ("/private/orders", .admin, ["private", "orders"]),
        ("/instances/admin/private/orders", .admin, ["private", "orders"]),
        ("/instances/shop1/private/orders", shop, ["private", "orders"]),
        ("/instances/Shop1/private/orders", InstanceID("Shop1")!, ["private", "orders"]),
        ("/instances/ADMIN/private/orders", InstanceID("ADMIN")!, ["private", "orders"]),
        // The query is dropped before anything else, whatever it holds.
        ("/private/orders?limit=-20", .admin, ["private", "orders"]),
        ("/private/orders?x=/../management//%2F", .admin, ["private", "orders"]),
        ("/instances/shop1/private?", shop, ["private"]),
        // Escapes of unreserved characters are decoded, the merchant decodes them too.
        ("/private/orders/%41bc", .admin, ["private", "orders", "Abc"]),
        ("/private/%6Frders", .admin, ["private", "orders"]),
        ("/private/%6frders", .admin, ["private", "orders"]),
        ("/private/orders/%7E%2D%5F%2E%30", .admin, ["private", "orders", "~-_.0"]),
        ("/instances/%73hop1/private", shop, ["private"]),
        ("/%69nstances/shop1/private", shop, ["private"]),
        ("/instances/%61dmin/private/orders", .admin, ["private", "orders"]),
        // Other escapes are kept as they are: they meet only a {name} wildcard.
        ("/private/orders/a%3Ab", .admin, ["private", "orders", "a%3Ab"]),
        ("/private/orders/a%3ab", .admin, ["private", "orders", "a%3ab"]),
        ("/private/orders/%20x", .admin, ["private", "orders", "%20x"]),
        ("/private/orders/%C3%A9", .admin, ["private", "orders", "%C3%A9"]),
        ("/private/orders/%25", .admin, ["private", "orders", "%25"]),
        ("/private/orders/a:b@c!$&'()*+,;=", .admin, ["private", "orders", "a:b@c!$&'()*+,;="]),
        // A dot inside a segment is no dot segment.
        ("/private/orders/...", .admin, ["private", "orders", "..."]),
        ("/private/orders/.a", .admin, ["private", "orders", ".a"]),
        ("/private/orders/a..", .admin, ["private", "orders", "a.."]),
        // Roots and bare prefixes.
        ("/", .admin, []),
        ("/?x=1", .admin, []),
        ("/instances", .admin, ["instances"]),
        ("/instances/shop1", shop, []),
        // The prefix is taken once.
        ("/instances/shop1/instances/admin/private", shop, ["instances", "admin", "private"]),
        ("/instances/admin/instances/shop1/private", .admin, ["instances", "shop1", "private"]),
    ]

    @Test("normalised", arguments: accepted)
    func normalised(target: String, instance: InstanceID, segments: [String]) throws {
        let path = try MerchantPath(requestTarget: target)
        #expect(path.instance == instance)
        #expect(path.segments == segments)
        // The canonical form normalises to the same path.
        #expect(try MerchantPath(requestTarget: path.description) == path)
    }

    /// Targets refused with 400, code 26, and why.
    static let refused: [(String, MerchantPathError)] = [
        ("", .notAbsolute),
        ("private/orders", .notAbsolute),
        ("*", .notAbsolute),
        ("?/private", .notAbsolute),
        ("http://merchant.example/private/orders", .notAbsolute),
        ("/private/../management/instances", .dotSegment),
        ("/private/orders/..", .dotSegment),
        ("/private/./orders", .dotSegment),
        ("/.", .dotSegment),
        ("/instances/../private", .dotSegment),
        ("/instances/shop1/../../private/orders", .dotSegment),
        ("/private/%2e%2e/management", .dotSegment),
        ("/private/%2E%2E/management", .dotSegment),
        ("/private/.%2e/management", .dotSegment),
        ("/private/%2E/orders", .dotSegment),
        ("/instances/%2e%2e/private", .dotSegment),
        ("//private/orders", .emptySegment),
        ("/private//orders", .emptySegment),
        ("/private/orders/", .emptySegment),
        ("/private/orders/?limit=1", .emptySegment),
        ("/instances//private", .emptySegment),
        ("/instances/", .emptySegment),
        ("/instances/shop1/", .emptySegment),
        ("/private/orders%2Fabc", .encodedSeparator),
        ("/private/orders%2fabc", .encodedSeparator),
        ("/private%2F..%2Fmanagement", .encodedSeparator),
        ("/instances/shop1%2Fprivate/orders", .encodedSeparator),
        ("/private/orders/a%5Cb", .encodedSeparator),
        ("/private/orders/a%5cb", .encodedSeparator),
        ("/private/orders/a%00b", .encodedControl),
        ("/private/orders/a%0Ab", .encodedControl),
        ("/private/orders/a%0db", .encodedControl),
        ("/private/orders/a%1F", .encodedControl),
        ("/private/orders/a%7F", .encodedControl),
        ("/private/orders/%", .malformedEscape),
        ("/private/orders/%4", .malformedEscape),
        ("/private/orders/%4g", .malformedEscape),
        ("/private/orders/%zz", .malformedEscape),
        ("/private/orders/%%41", .malformedEscape),
        ("/private/orders/a b", .invalidCharacter),
        ("/private/orders/a\"b", .invalidCharacter),
        ("/private/orders/a#b", .invalidCharacter),
        ("/private/orders/a\\b", .invalidCharacter),
        ("/private/orders/a<b>", .invalidCharacter),
        ("/private/orders/a{b}", .invalidCharacter),
        ("/private/orders/a|b", .invalidCharacter),
        ("/private/orders/a^b", .invalidCharacter),
        ("/private/orders/a`b", .invalidCharacter),
        ("/private/orders/\u{E9}", .invalidCharacter),
        ("/private/orders/a\u{0}b", .invalidCharacter),
        ("/private/orders/a\tb", .invalidCharacter),
        ("/private/orders/a\u{7F}b", .invalidCharacter),
        ("/instances/a/private", .invalidInstance),
        ("/instances/-shop/private", .invalidInstance),
        ("/instances/.shop/private", .invalidInstance),
        ("/instances/a%40b/private", .invalidInstance),
        ("/instances/sh%20op/private", .invalidInstance),
        (
            "/instances/" + String(repeating: "a", count: InstanceID.maximumLength + 1),
            .invalidInstance
        ),
        ("/" + String(repeating: "a", count: MerchantPath.maximumLength), .tooLong),
        ("/private/" + String(repeating: "%41", count: 1_400), .tooLong),
    ]

    @Test("refused", arguments: refused)
    func refusedTarget(target: String, error: MerchantPathError) {
        #expect(throws: error) { try MerchantPath(requestTarget: target) }
        #expect(error.errorCode == .genericParameterMalformed)
        #expect(error.errorCode.httpStatus == 400)
        #expect(!error.hint.isEmpty)
    }

    @Test func theRootPrefixIsTheRoot() throws {
        let prefixed = try MerchantPath(requestTarget: "/instances/admin/private/orders")
        let root = try MerchantPath(requestTarget: "/private/orders")
        #expect(prefixed == root)
        #expect(prefixed.description == "/private/orders")
        #expect(
            try MerchantPath(requestTarget: "/instances/shop1/private").description
                == "/instances/shop1/private")
    }

    @Test func instanceIdsAreCaseSensitive() throws {
        let upper = try MerchantPath(requestTarget: "/instances/SHOP1/private/orders")
        let lower = try MerchantPath(requestTarget: "/instances/shop1/private/orders")
        #expect(upper != lower)
        #expect(try MerchantPath(requestTarget: "/instances/Admin/private").instance != .admin)
    }

    @Test func theLengthBoundIsOnThePathNotTheQuery() throws {
        let longest = "/" + String(repeating: "a", count: MerchantPath.maximumLength - 1)
        #expect(try MerchantPath(requestTarget: longest).segments.first?.utf8.count == 4_095)
        let query = "?q=" + String(repeating: "x", count: 20_000)
        #expect(try MerchantPath(requestTarget: "/private/orders" + query).segments.count == 2)
    }

    static let methods: [(String, RequestMethod?)] = [
        ("GET", .get), ("HEAD", .head), ("PATCH", .patch), ("PROPFIND", RequestMethod("PROPFIND")),
        ("get", RequestMethod("get")), ("", nil), ("G ET", nil), ("GET\r\n", nil),
        ("GÉT", nil), (String(repeating: "A", count: RequestMethod.maximumLength + 1), nil),
    ]

    @Test("methods are RFC 9110 tokens", arguments: methods)
    func method(raw: String, expected: RequestMethod?) {
        #expect(RequestMethod(raw) == expected)
        #expect(RequestMethod(raw)?.rawValue == expected?.rawValue)
    }

    @Test func headIsMatchedAsGet() {
        #expect(RequestMethod.head.matchedAs == .get)
        #expect(RequestMethod.post.matchedAs == .post)
        #expect(RequestMethod("get")?.matchedAs != .get)
    }
}
