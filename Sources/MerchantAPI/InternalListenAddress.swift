import Hummingbird

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where the internal listener binds (setting `internal-listen`, spec §10.7): a loopback
/// address and port, or a UNIX socket path. Nothing else is accepted, so the routes that only
/// the operator and the reverse proxy may reach (``MerchantAPI/internalRoutes``: metrics, and
/// forward-auth with its backend credentials) can never be bound to a network interface.
///
/// Forms: `127.0.0.1:9967` (any address in 127.0.0.0/8), `[::1]:9967`, `localhost:9967`
/// (bound as 127.0.0.1, never resolved), port 0 for any free one; a value with a `/` is a
/// socket path (`/run/tallystick/internal.sock`, `./internal.sock`).
public enum InternalListenAddress: Equatable, Sendable, CustomStringConvertible {
    case loopback(host: String, port: Int)
    case unixSocket(path: String)

    /// Why a value is not an internal listen address: one line, naming the value and the
    /// forms that are.
    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// Longest socket path (`sun_path` holds 108 bytes with its NUL on Linux).
    static let maximumPathBytes = 107

    /// Parses a setting's value.
    /// - Throws: ``Invalid`` for a non-loopback address, a bad port, or a path too long for a
    ///   socket.
    public init(parsing text: String) throws(Invalid) {
        let forms = "use 127.0.0.1:PORT, [::1]:PORT or a UNIX socket path"
        if text.contains("/") {
            guard text.utf8.count <= Self.maximumPathBytes, !text.hasSuffix("/") else {
                throw Invalid(
                    description:
                        "internal-listen \(text) is not a usable UNIX socket path (at most \(Self.maximumPathBytes) bytes, not a directory)"
                )
            }
            self = .unixSocket(path: text)
            return
        }
        let host: Substring
        let portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else {
                throw Invalid(description: "internal-listen \(text) has no port; \(forms)")
            }
            portText = rest.dropFirst()
        } else if let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            throw Invalid(
                description: "internal-listen \(text) is not an address and port; \(forms)")
        }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw Invalid(description: "internal-listen \(text): the port must be 0...65535")
        }
        let bound = host == "localhost" ? "127.0.0.1" : String(host)
        guard Self.isLoopback(bound) else {
            throw Invalid(
                description:
                    "internal-listen \(text) is not a loopback address: the internal listener must not be reachable from the network; \(forms)"
            )
        }
        self = .loopback(host: bound, port: port)
    }

    /// Whether `host` is an IP address literal of the loopback interface (127.0.0.0/8, ::1).
    static func isLoopback(_ host: String) -> Bool {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) } == Array(repeating: 0, count: 15) + [1]
        }
        return false
    }

    /// Hummingbird's form of the address.
    public var bindAddress: BindAddress {
        switch self {
        case .loopback(let host, let port): .hostname(host, port: port)
        case .unixSocket(let path): .unixDomainSocket(path: path)
        }
    }

    /// `http://127.0.0.1:9967`, `http://[::1]:9967` or `unix:/path`.
    public var description: String {
        switch self {
        case .loopback(let host, let port):
            host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)"
        case .unixSocket(let path): "unix:\(path)"
        }
    }
}
