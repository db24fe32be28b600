import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import TokenEngine

/// The engine's ``MerchantTransport`` over HTTP, on async-http-client: every request to the
/// merchant backend at ``address`` (spec §9).
///
/// Redirects are never followed (an `Authorization` header must not travel to another
/// address), and every request has a deadline. All of them share one HTTP client that lives
/// as long as the process (``client``), so nothing needs shutting down.
public struct MerchantHTTPClient: MerchantTransport {
    public let address: UpstreamAddress
    /// How long one request may take, connection included.
    public let timeout: TimeAmount
    /// The largest answer read (the merchant's `/config` and instance details are a few KiB).
    static let maximumReplyBytes = 1 << 20

    /// The process's one client to merchant backends: a global is never deinitialised, so
    /// it needs no `shutdown()` (its connections close with the process).
    private static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(5))
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    public init(address: UpstreamAddress, timeout: TimeAmount = .seconds(30)) {
        self.address = address
        self.timeout = timeout
    }

    public func send(_ request: MerchantRequest) async throws(MerchantUnreachable) -> MerchantReply
    {
        var outgoing = HTTPClientRequest(url: address.url(for: request.path))
        outgoing.method = HTTPMethod(rawValue: request.method)
        if let authorization = request.authorization {
            outgoing.headers.add(name: "Authorization", value: authorization)
        }
        if let body = request.body {
            outgoing.headers.add(name: "Content-Type", value: "application/json")
            outgoing.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            let response = try await Self.client.execute(outgoing, timeout: timeout)
            let body = try await response.body.collect(upTo: Self.maximumReplyBytes)
            return MerchantReply(status: Int(response.status.code), body: Array(buffer: body))
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            throw MerchantUnreachable(
                "\(address): no answer within \(timeout.nanoseconds / 1_000_000_000) s",
                timedOut: true)
        } catch {
            // The error's text names the address and the cause (refused, reset); never a
            // header.
            throw MerchantUnreachable("\(address): \(Self.describe(error))")
        }
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return "the connection timed out"
            case .remoteConnectionClosed: return "the connection was closed"
            case .bodyLengthMismatch: return "the answer's length was wrong"
            default: break
            }
        }
        return "\(error)"
    }
}
