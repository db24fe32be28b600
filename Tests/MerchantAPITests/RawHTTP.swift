import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Bytes over a plain TCP connection to 127.0.0.1, for what an HTTP client library hides:
/// whether a response carries a body it must not have, pipelined framing, a server closing.
///
/// Blocking calls with a receive timeout (a bound on a hang, never a timing assertion).
struct RawHTTP {
    enum Failure: Error { case socket(String) }

    /// Sends `request` on a new connection to 127.0.0.1:`port` and reads until the server
    /// closes it.
    static func exchange(port: Int, _ request: String, timeoutSeconds: Int = 60) throws -> [UInt8] {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.socket("socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Failure.socket("connect") }
        return try talk(fd, request, timeoutSeconds: timeoutSeconds)
    }

    /// The same over the UNIX socket at `path`.
    static func exchange(socketPath path: String, _ request: String, timeoutSeconds: Int = 60)
        throws -> [UInt8]
    {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.socket("socket") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw Failure.socket("path too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: bytes) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else { throw Failure.socket("connect: \(errno)") }
        return try talk(fd, request, timeoutSeconds: timeoutSeconds)
    }

    /// Sends `request` on `fd` and reads until the server closes the connection.
    private static func talk(_ fd: Int32, _ request: String, timeoutSeconds: Int) throws
        -> [UInt8]
    {
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw Failure.socket("send") }
            sent += n
        }
        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            guard n > 0 else {
                if errno == ECONNRESET { break }
                throw Failure.socket("recv: no close within \(timeoutSeconds) s")
            }
            received += buffer[..<n]
        }
        return received
    }

    /// One response read off a byte stream.
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
    }

    /// Splits `bytes` into responses, reading a body only for requests that are not `HEAD`
    /// (`heads[i]` says whether request `i` was), by `Content-Length`. What follows the last
    /// expected response is returned as `rest` (it must be empty on a well-framed stream).
    static func responses(_ bytes: [UInt8], heads: [Bool]) -> (responses: [Response], rest: [UInt8])
    {
        var out = [Response]()
        var at = 0
        let separator = Array("\r\n\r\n".utf8)
        for isHead in heads {
            guard
                let end = (at..<max(at, bytes.count - 3)).first(where: {
                    Array(bytes[$0..<$0 + 4]) == separator
                })
            else { break }
            let text = String(decoding: bytes[at..<end], as: UTF8.self)
            let lines = text.components(separatedBy: "\r\n")
            guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1.1 "),
                let status = Int(statusLine.split(separator: " ")[1])
            else { break }
            var headers = [String: String]()
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...]
                    .trimmingCharacters(in: .whitespaces)
            }
            at = end + 4
            var body = [UInt8]()
            if !isHead, let length = headers["content-length"].flatMap({ Int($0) }) {
                body = Array(bytes[at..<min(bytes.count, at + length)])
                at += body.count
            }
            out.append(Response(status: status, headers: headers, body: body))
        }
        return (out, Array(bytes[at...]))
    }
}
