import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A private nginx (Debian's binary, installed by `tools/setup.sh`) running the shipped site
/// `tools/nginx/tallystick.conf` with its placeholders filled in: its own prefix (a temporary
/// directory: configuration, pid, logs, temporary files), a free loopback port, `daemon off`,
/// started and stopped by the test. A system nginx service is never touched.
struct NginxServer {
    /// What the shipped template's placeholders become.
    struct Site: Sendable {
        var listen: String
        var tallystickPublic: String
        var tallystickInternal: String
        var merchant: String
        var prefix: String

        var substitutions: [(String, String)] {
            [
                ("@LISTEN@", listen), ("@TALLYSTICK_PUBLIC@", tallystickPublic),
                ("@TALLYSTICK_INTERNAL@", tallystickInternal), ("@MERCHANT@", merchant),
                ("@PREFIX@", prefix),
            ]
        }
    }

    enum Failure: Error, CustomStringConvertible {
        case notStarted(String)
        var description: String {
            switch self {
            case .notStarted(let why): "nginx did not start: \(why)"
            }
        }
    }

    let process: Process
    let port: Int
    let prefix: String

    var accessLog: String { prefix + "/access.log" }
    var errorLog: String { prefix + "/error.log" }

    /// Debian's nginx binary.
    static func binary() throws -> String {
        let candidates = ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        return try #require(
            candidates.first { FileManager.default.isExecutableFile(atPath: $0) },
            "nginx is missing: run tools/setup.sh (as root) or apt-get install -y nginx")
    }

    /// The shipped template, read from the repository this test was built from.
    static func template() throws -> String {
        var directory = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { directory.deleteLastPathComponent() }
        return try String(
            contentsOf: directory.appendingPathComponent("tools/nginx/tallystick.conf"),
            encoding: .utf8)
    }

    /// The template with every placeholder replaced; fails the test if one is left.
    static func render(_ site: Site) throws -> String {
        var text = try template()
        for (placeholder, value) in site.substitutions {
            text = text.replacingOccurrences(of: placeholder, with: value)
        }
        let left = text.split(separator: "\n").filter {
            !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#")
                && $0.contains(/@[A-Z_]+@/)
        }
        #expect(left.isEmpty, "placeholders left: \(left)")
        return text
    }

    /// The main configuration around the site (what `/etc/nginx/nginx.conf` is on Debian):
    /// one worker, pid and every temporary path in the prefix, no other access log.
    static func mainConfiguration(prefix: String, site: String) -> String {
        """
        worker_processes 1;
        pid \(prefix)/nginx.pid;
        error_log \(prefix)/error.log;
        events { worker_connections 256; }
        http {
            access_log off;
            client_body_temp_path \(prefix)/temp/body;
            proxy_temp_path \(prefix)/temp/proxy;
            fastcgi_temp_path \(prefix)/temp/fastcgi;
            uwsgi_temp_path \(prefix)/temp/uwsgi;
            scgi_temp_path \(prefix)/temp/scgi;
            include \(site);
        }

        """
    }

    /// Writes the rendered site and the main configuration into `site.prefix` (created
    /// `0711`: nginx's workers, `nobody` when the test runs as root, must reach their
    /// temporary directories) and returns the main configuration's path.
    static func writeConfiguration(_ site: Site) throws -> String {
        let manager = FileManager.default
        try manager.createDirectory(
            atPath: site.prefix + "/temp", withIntermediateDirectories: true)
        chmod(site.prefix, 0o711)
        chmod((site.prefix as NSString).deletingLastPathComponent, 0o711)
        let sitePath = site.prefix + "/tallystick.conf"
        try render(site).write(toFile: sitePath, atomically: true, encoding: .utf8)
        let main = site.prefix + "/nginx.conf"
        try mainConfiguration(prefix: site.prefix, site: sitePath)
            .write(toFile: main, atomically: true, encoding: .utf8)
        return main
    }

    /// `nginx -t` on the configuration: its exit status and what it said.
    static func check(_ site: Site) throws -> (Int32, String) {
        let main = try writeConfiguration(site)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try binary())
        process.arguments = ["-t", "-p", site.prefix, "-e", site.prefix + "/error.log", "-c", main]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let said = String(
            decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, said)
    }

    /// A loopback port nobody listens on right now (bound to port 0, then closed). Another
    /// process may take it before nginx does: ``start(prefix:site:)`` then tries another.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.notStarted("socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw Failure.notStarted("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether something accepts connections on 127.0.0.1:`port`.
    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// Starts nginx in the foreground on a free loopback port with `site` (its `listen` is
    /// replaced by that port) and returns once the port accepts connections. The wait polls
    /// with a bound (30 s, a bound on a hang, never a timing assertion); a port taken in the
    /// meantime (nginx exits) gets another try.
    static func start(site: Site) async throws -> NginxServer {
        var reasons = [String]()
        for _ in 0..<5 {
            let port = try freePort()
            var site = site
            site.listen = "127.0.0.1:\(port)"
            let main = try writeConfiguration(site)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try binary())
            process.arguments = [
                "-p", site.prefix, "-e", site.prefix + "/error.log", "-c", main,
                "-g", "daemon off;",
            ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = try FileHandle(
                forWritingTo: URL(fileURLWithPath: errorFile(site.prefix)))
            try process.run()
            let server = NginxServer(process: process, port: port, prefix: site.prefix)
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(30)
            while process.isRunning && !accepts(port: port) && clock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            if process.isRunning && accepts(port: port) { return server }
            server.stop()
            reasons.append(
                (try? String(contentsOfFile: errorFile(site.prefix), encoding: .utf8)) ?? "")
        }
        throw Failure.notStarted(reasons.joined(separator: "\n"))
    }

    /// Where nginx's standard error goes (created empty).
    private static func errorFile(_ prefix: String) -> String {
        let path = prefix + "/stderr.log"
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        return path
    }

    /// Stops nginx (SIGTERM: fast shutdown of master and workers) and waits for it.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    /// Everything nginx wrote: access log, error log, standard error.
    func logs() -> String {
        [accessLog, errorLog, prefix + "/stderr.log"].compactMap {
            try? String(contentsOfFile: $0, encoding: .utf8)
        }.joined(separator: "\n")
    }
}
