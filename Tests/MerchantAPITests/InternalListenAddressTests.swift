import Testing

@testable import MerchantAPI

/// Spec §10.7: the internal listener binds to loopback or a UNIX socket, nothing else.
@Suite("Internal listen address")
struct InternalListenAddressTests {
    static let accepted: [(String, InternalListenAddress)] = [
        ("127.0.0.1:9967", .loopback(host: "127.0.0.1", port: 9967)),
        ("127.3.4.5:0", .loopback(host: "127.3.4.5", port: 0)),
        ("[::1]:9967", .loopback(host: "::1", port: 9967)),
        ("[0:0:0:0:0:0:0:1]:1", .loopback(host: "0:0:0:0:0:0:0:1", port: 1)),
        ("localhost:9967", .loopback(host: "127.0.0.1", port: 9967)),
        ("/run/tallystick/internal.sock", .unixSocket(path: "/run/tallystick/internal.sock")),
        ("./internal.sock", .unixSocket(path: "./internal.sock")),
    ]

    @Test(arguments: accepted)
    func loopbackAddressesAndSocketPathsAreAccepted(text: String, expected: InternalListenAddress)
        throws
    {
        #expect(try InternalListenAddress(parsing: text) == expected)
    }

    static let refused: [(String, String)] = [
        ("0.0.0.0:9967", "not a loopback address"),
        ("10.0.0.5:9967", "not a loopback address"),
        ("[::]:9967", "not a loopback address"),
        ("[::ffff:127.0.0.1]:9967", "not a loopback address"),
        ("example.com:9967", "not a loopback address"),
        ("128.0.0.1:1", "not a loopback address"),
        ("127.0.0.1:65536", "the port must be"),
        ("127.0.0.1:", "the port must be"),
        ("127.0.0.1", "not an address and port"),
        ("::1:9967", "not an address and port"),
        ("[::1]", "has no port"),
        ("", "not an address and port"),
        ("/" + String(repeating: "d", count: 200), "not a usable UNIX socket path"),
        ("/run/tallystick/", "not a usable UNIX socket path"),
    ]

    @Test(arguments: refused)
    func everythingElseIsRefusedWithOneLine(text: String, why: String) {
        let error = #expect(throws: InternalListenAddress.Invalid.self) {
            try InternalListenAddress(parsing: text)
        }
        #expect(error?.description.contains(why) == true, "\(error?.description ?? "")")
        #expect(error?.description.contains("\n") == false)
    }

    @Test func descriptionsAreURLsOrSocketPaths() throws {
        #expect(
            InternalListenAddress.loopback(host: "::1", port: 5).description == "http://[::1]:5")
        #expect(
            InternalListenAddress.loopback(host: "127.0.0.1", port: 5).description
                == "http://127.0.0.1:5")
        #expect(InternalListenAddress.unixSocket(path: "/x.sock").description == "unix:/x.sock")
    }
}
