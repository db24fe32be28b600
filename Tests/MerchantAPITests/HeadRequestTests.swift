import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import MerchantAPI

/// Spec §10.10: `HEAD` answers as `GET` would, without a body. Checked on the bytes of a real
/// connection (the in-process client hides bodies): statuses, `Content-Length`, and no byte
/// between one answer and the next.
@Suite("HEAD")
struct HeadRequestTests {
    @Test func headIsGetWithoutTheBodyOnEveryPathAndKeepsTheConnectionFramed() async throws {
        let h = try await APIHarness()
        let admin = bearer(APIHarness.adminPassword)
        try await h.test(.live) { client in
            let port = try #require(client.port)
            let requests: [(method: String, path: String, auth: Bool)] = [
                ("HEAD", "/config", false),
                ("HEAD", "/private/tokens", true),
                ("HEAD", "/private/tokens", false),
                ("HEAD", "/private/token", true),
                ("HEAD", "/no/such/path", false),
                ("HEAD", "/instances/nobody/private", true),
                ("GET", "/config", false),
            ]
            var raw = ""
            for (index, request) in requests.enumerated() {
                raw += "\(request.method) \(request.path) HTTP/1.1\r\nHost: x\r\n"
                if request.auth { raw += "Authorization: \(admin)\r\n" }
                if index == requests.count - 1 { raw += "Connection: close\r\n" }
                raw += "\r\n"
            }
            let bytes = try RawHTTP.exchange(port: port, raw)
            let (responses, rest) = RawHTTP.responses(
                bytes, heads: requests.map { $0.method == "HEAD" })
            #expect(responses.map(\.status) == [200, 204, 401, 405, 404, 404, 200])
            #expect(rest.isEmpty, "bytes after the last response: a HEAD answer had a body")
            let config = try #require(responses.last)
            let headConfig = try #require(responses.first)
            #expect(headConfig.headers["content-length"] == String(config.body.count))
            #expect(headConfig.headers["content-type"] == "application/json")
            #expect(String(decoding: config.body, as: UTF8.self).contains("taler-merchant"))
            #expect(responses[1].headers["cache-control"] == "no-store")
        }
        let log = h.capture.text
        #expect(log.contains("http.method=HEAD") || log.contains(#""http.method": HEAD"#))
    }

    @Test func headRunsAsGetInProcessToo() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let head = try await client.call(.head, "/private/tokens")
            #expect(head.status == .unauthorized)
            #expect(head.body.readableBytes == 0)
            let listed = try await client.call(
                .head, "/private/tokens", auth: bearer(APIHarness.adminPassword))
            #expect(listed.status == .noContent)
            #expect(listed.body.readableBytes == 0)
        }
    }
}
