import Foundation

/// Where the merchant backend listens (setting `upstream`, spec §9): a plain-HTTP base URL on
/// the loopback interface, or a UNIX socket. Nothing else: Tallystick sends the merchant
/// backend credentials that must not cross a network in clear text.
///
/// Forms: `http://127.0.0.1:9966`, `http://[::1]:9966/`, `http://localhost:9966` (any
/// address in 127.0.0.0/8 or `::1`; `localhost` is used as 127.0.0.1, never resolved), and
/// `unix:/run/taler-merchant/httpd.sock` (a path with `/`; an `http+unix://` URL is not
/// needed). A path after the port (a merchant behind a prefix) is kept.
public enum UpstreamAddress: Equatable, Sendable, CustomStringConvertible {
    case http(host: String, port: Int, prefix: String)
    case unixSocket(path: String)

    /// Why a value is not an upstream address: one line, naming the value and the forms.
    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// - Throws: ``Invalid`` for another scheme, a non-loopback host, a bad port, or a
    ///   relative socket path.
    public init(parsing text: String) throws(Invalid) {
        let forms = "use http://127.0.0.1:PORT, http://[::1]:PORT or unix:/PATH"
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst("unix:".count))
            guard path.hasPrefix("/"), path.utf8.count <= 107 else {
                throw Invalid(
                    description:
                        "upstream \(text): the socket path must be absolute and at most 107 bytes")
            }
            self = .unixSocket(path: path)
            return
        }
        guard let components = URLComponents(string: text), components.scheme == "http",
            var host = components.host, !host.isEmpty, components.user == nil,
            components.password == nil, components.query == nil, components.fragment == nil
        else {
            throw Invalid(description: "upstream \(text) is not a plain http:// URL; \(forms)")
        }
        if host.hasPrefix("[") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" { host = "127.0.0.1" }
        guard InternalListenAddress.isLoopback(host) else {
            throw Invalid(
                description:
                    "upstream \(text) is not on the loopback interface: backend credentials must not cross a network in clear text; \(forms)"
            )
        }
        let port = components.port ?? 80
        guard (1...65535).contains(port) else {
            throw Invalid(description: "upstream \(text): the port must be 1...65535")
        }
        var prefix = components.percentEncodedPath
        while prefix.hasSuffix("/") { prefix.removeLast() }
        self = .http(host: host, port: port, prefix: prefix)
    }

    /// The URL of `path` (which starts with `/`) at this address.
    func url(for path: String) -> String {
        switch self {
        case .http(let host, let port, let prefix):
            let shown = host.contains(":") ? "[\(host)]" : host
            return "http://\(shown):\(port)\(prefix)\(path)"
        case .unixSocket(let socket):
            let encoded =
                socket.addingPercentEncoding(withAllowedCharacters: .urlHostAllowed) ?? socket
            return "http+unix://\(encoded)\(path)"
        }
    }

    public var description: String {
        switch self {
        case .http(let host, let port, let prefix):
            host.contains(":")
                ? "http://[\(host)]:\(port)\(prefix)" : "http://\(host):\(port)\(prefix)"
        case .unixSocket(let path): "unix:\(path)"
        }
    }
}
