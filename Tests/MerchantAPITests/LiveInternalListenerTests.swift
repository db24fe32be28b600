import EventLogTestSupport
import Foundation
import Testing

/// Spec §10.7 on the real executable: `/metrics` only on `internal-listen`, never on the
/// public port; a non-loopback `internal-listen` is refused before anything starts.
@Suite("Live internal listener")
struct LiveInternalListenerTests {
    /// The `internal listener on ...` line the server prints (it may follow `listening on`).
    static func internalLine(of server: LiveServerTests.Server) throws -> String {
        var seen = server.output
        while !seen.contains("internal listener on ") || !seen.hasSuffix("\n") {
            let chunk = server.outputPipe.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        let line = seen.split(separator: "\n").first { $0.contains("internal listener on ") }
        return String(try #require(line).split(separator: " ").last ?? "")
    }

    static let get = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

    @Test func metricsAreServedOnTheInternalPortOnly() async throws {
        let directory = try TemporaryDirectory(prefix: "live-internal")
        defer { directory.remove() }
        let server = try LiveServerTests.Server.start(
            arguments: [
                "serve", "--port", "0", "--data-dir", directory.appending("data"),
                "--internal-listen", "127.0.0.1:0", "--log-level", "warning",
            ], environment: ["TALER_MERCHANT_PASSWORD": "live internal pw"])
        defer { server.killIfRunning() }
        let url = try Self.internalLine(of: server)
        let internalPort = try #require(url.split(separator: ":").last.flatMap { Int($0) })
        #expect(url.hasPrefix("http://127.0.0.1:"))
        #expect(internalPort != server.port)

        let (public_, _) = RawHTTP.responses(
            try RawHTTP.exchange(port: server.port, Self.get), heads: [false])
        #expect(public_.first?.status == 404)
        let notFound = String(decoding: public_.first?.body ?? [], as: UTF8.self)
        #expect(notFound.contains(#""code":21"#))

        let (metrics, _) = RawHTTP.responses(
            try RawHTTP.exchange(port: internalPort, Self.get), heads: [false])
        #expect(metrics.first?.status == 200)
        let text = String(decoding: metrics.first?.body ?? [], as: UTF8.self)
        #expect(
            text.contains(
                #"tallystick_http_requests_total{route="NotFound",method="GET",status="404"} 1"#))
        let (config, _) = RawHTTP.responses(
            try RawHTTP.exchange(
                port: internalPort, "GET /config HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            heads: [false])
        #expect(config.first?.status == 404)
        #expect(server.stop() == 0)
        #expect(!server.takeLog().contains("live internal pw"))
    }

    @Test func aUnixSocketIsTheOwnersAndGroupsAlone() async throws {
        let directory = try TemporaryDirectory(prefix: "live-socket")
        defer { directory.remove() }
        let path = directory.appending("internal.sock")
        let server = try LiveServerTests.Server.start(
            arguments: [
                "serve", "--port", "0", "--data-dir", directory.appending("data"),
                "--internal-listen", path, "--log-level", "warning",
            ], environment: ["TALER_MERCHANT_PASSWORD": "live socket pw"], umask: "000")
        defer { server.killIfRunning() }
        #expect(try Self.internalLine(of: server) == "unix:\(path)")
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect(attributes[.posixPermissions] as? Int == 0o660)
        let (metrics, _) = RawHTTP.responses(
            try RawHTTP.exchange(socketPath: path, Self.get), heads: [false])
        #expect(metrics.first?.status == 200)
        #expect(server.stop() == 0)
        _ = server.takeLog()
    }

    @Test(arguments: ["0.0.0.0:9967", "10.1.2.3:0", "[::]:0", "example.org:80"])
    func aNonLoopbackAddressIsRefusedWithOneLine(address: String) throws {
        let directory = try TemporaryDirectory(prefix: "live-nonloopback")
        defer { directory.remove() }
        let (status, said) = try LiveServerTests.runUntilListeningOrExit(
            [
                "serve", "--port", "0", "--data-dir", directory.appending("data"),
                "--internal-listen", address,
            ], environment: ["TALER_MERCHANT_PASSWORD": "live refused pw"])
        #expect(status != 0)
        let lines = said.split(separator: "\n").filter { $0.contains("internal-listen") }
        #expect(lines.count == 1)
        #expect(lines.first?.contains("\(address) is not a loopback address") == true)
        #expect(!FileManager.default.fileExists(atPath: directory.appending("data")))
    }
}
