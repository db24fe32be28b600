import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization
import Testing

/// A stand-in for `taler-merchant-httpd` behind nginx: records every request it receives
/// (method, the path as sent on the wire, headers, body) and answers each with 200 and a
/// small JSON body, on any path and method; with a ``MerchantModel``, the instance and token
/// management requests get the model's answers instead.
///
/// In-process, so a test reads what it recorded directly; ``run(_:)`` serves it on a free
/// loopback port for the duration of a closure.
final class StandInMerchant: Sendable {
    /// One request as the merchant would have seen it.
    struct Recorded: Sendable {
        var method: String
        /// The request target exactly as sent (query included, nothing normalised).
        var path: String
        var headers: HTTPFields
        var body: String

        /// The values of `name`, in order.
        func values(_ name: String) -> [String] {
            guard let field = HTTPField.Name(name) else { return [] }
            return headers[values: field]
        }

        /// Every header line, `name: value`, for searching the whole request for a secret.
        var headerText: String {
            headers.map { "\($0.name.rawName): \($0.value)" }.joined(separator: "\n")
        }
    }

    /// The body every answer carries: a client can tell the stand-in's answer from
    /// Tallystick's.
    static let answer = #"{"stand_in":"merchant"}"#

    private let recorded = Mutex<[Recorded]>([])
    private let meant = Mutex<Set<String>>([])
    /// The instances and tokens it keeps, when it plays the merchant's management API.
    let model: MerchantModel?

    init(model: MerchantModel? = nil) {
        self.model = model
    }

    /// Notes that the request tagged `tag` was meant to reach the merchant.
    func expect(tag: String) { _ = meant.withLock { $0.insert(tag) } }

    /// Whether the request tagged `tag` was meant to reach the merchant.
    func expected(tag: String) -> Bool { meant.withLock { $0.contains(tag) } }

    /// How many requests were meant to reach the merchant.
    var expectedCount: Int { meant.withLock { $0.count } }

    /// Everything received so far, in arrival order.
    var requests: [Recorded] { recorded.withLock { $0 } }

    /// The requests carrying header `X-Test-Request: id` (a tag the test sets per request;
    /// nginx passes client headers on).
    func requests(tagged id: String) -> [Recorded] {
        requests.filter { $0.values("X-Test-Request").contains(id) }
    }

    /// Serves the stand-in on 127.0.0.1 (a free port) while `body` runs with that port.
    func run<Value: Sendable>(_ body: @Sendable (Int) async throws -> Value) async throws -> Value {
        try await run(at: .hostname("127.0.0.1", port: 0), body)
    }

    /// Serves the stand-in at `address` (a UNIX socket, or a loopback port: 0 for a free
    /// one) while `body` runs with the bound port (0 for a socket).
    func run<Value: Sendable>(
        at address: BindAddress, _ body: @Sendable (Int) async throws -> Value
    ) async throws -> Value {
        let responder = CallbackResponder { (request: Request, _: BasicRequestContext) in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            self.recorded.withLock {
                $0.append(
                    Recorded(
                        method: request.method.rawValue, path: request.head.path ?? "",
                        headers: request.headers, body: String(buffer: bytes)))
            }
            if let answer = self.model?.answer(
                method: request.method.rawValue, path: request.head.path ?? "",
                headers: request.headers, body: String(buffer: bytes))
            {
                return Response(
                    status: HTTPResponse.Status(code: answer.status),
                    headers: answer.body.isEmpty ? [:] : [.contentType: "application/json"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: answer.body)))
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: Self.answer)))
        }
        let (ports, announce) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            responder: responder,
            configuration: .init(address: address),
            onServerRunning: { channel in
                announce.yield(channel.localAddress?.port ?? 0)
                announce.finish()
            })
        let server = Task { try await app.run() }
        defer { server.cancel() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next(), "the stand-in merchant did not start")
        do {
            let value = try await body(port)
            server.cancel()
            _ = await server.result
            return value
        } catch {
            server.cancel()
            _ = await server.result
            throw error
        }
    }
}
