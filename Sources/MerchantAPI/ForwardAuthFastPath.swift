import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Answers the reverse proxy's checks (`GET /authz/auth-request`, `GET /authz/forward-auth`)
/// on the connection's event loop, as soon as the request is read, instead of handing them
/// to Hummingbird's router.
///
/// A proxy asks once for every request of a merchant client, so the check's own cost decides
/// how much a guarded merchant loses (issue #14's figure: through nginx at least half the
/// throughput of the same request without the check). Through Hummingbird a check went from
/// the event loop to a task of its own and back, with the router, the request and response
/// types and their async body streams in between: about three quarters of its CPU, and most
/// of its latency on one connection. The decision is the same function either way
/// (``MerchantAPI/forwardAuthNow(method:target:authorization:client:)``), and so are the
/// answer's status, headers and body, its metrics and its log line; only the way the bytes
/// travel differs.
///
/// It sits in the internal listener's pipeline after ``ConnectionDeadlines`` and
/// ``ParserErrorHandler`` (which see its answers go out) and in front of Hummingbird, and
/// passes on, untouched:
/// - every other request (other paths, methods, `HEAD`, Envoy's `ext-authz`, a request with
///   a body or `Connection: close`);
/// - a check whose credential is a password: it must wait for the login throttle and the
///   hashing queue, which only the asynchronous route does;
/// - every request while one it passed on has not been answered, so that answers leave in
///   the order their requests came;
/// - every request while the connection is not writable (a client that sends checks without
///   reading the answers): Hummingbird then stops reading, where answering here would pile
///   the answers up in memory.
public final class ForwardAuthFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    /// The convention of a check this handler answers itself, `nil` for anything else.
    static func convention(of head: HTTPRequest) -> ForwardConvention? {
        guard head.method == .get, let target = head.path,
            head.headerFields[.contentLength] == nil,
            head.headerFields[.transferEncoding] == nil,
            !(head.headerFields[.connection]?.lowercased().contains("close") ?? false)
        else { return nil }
        let path = target.firstIndex(of: "?").map { target[..<$0] } ?? target[...]
        return ForwardConvention.all.first { path == $0.route }
    }

    private let api: MerchantAPI
    /// A check read up to its head, answered when its end comes.
    private var held: (head: HTTPRequest, convention: ForwardConvention)?
    /// Requests passed on to Hummingbird whose answers have not ended yet.
    private var passedOn = 0

    public init(api: MerchantAPI) {
        self.api = api
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if passedOn == 0, context.channel.isWritable, let convention = Self.convention(of: head)
            {
                held = (head, convention)
                return
            }
            passedOn += 1
        case .body:
            // A held check has no body (it has no framing header); should one come, the
            // request goes the usual way.
            if let (head, _) = held.take() { passOn(head, context: context) }
        case .end:
            if let (head, convention) = held.take() {
                answer(head, convention, context: context)
                return
            }
        }
        context.fireChannelRead(data)
    }

    public func write(
        context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?
    ) {
        if case .end = unwrapOutboundIn(data) { passedOn = max(0, passedOn - 1) }
        context.write(data, promise: promise)
    }

    private func passOn(_ head: HTTPRequest, context: ChannelHandlerContext) {
        passedOn += 1
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    /// Decides the check and writes the answer, or passes it on when it needs a password
    /// hash.
    private func answer(
        _ head: HTTPRequest, _ convention: ForwardConvention, context: ChannelHandlerContext
    ) {
        let start = ContinuousClock.now
        let fields = head.headerFields
        var status = HTTPResponse.Status.ok
        var headers: HTTPFields
        var body: [UInt8] = []
        var code: Int?
        do {
            let (method, target) = try convention.question(fields)
            // The client is found only when asked (a login token's throttle), as on the route.
            switch try api.forwardAuthNow(
                method: method, target: target, authorization: fields[.authorization],
                client: api.trustedProxies.client(
                    of: IPAddress(peerOf: context.channel), headers: fields))
            {
            case .decided(let allowed):
                headers = allowed
            case .password:
                passOn(head, context: context)
                context.fireChannelRead(wrapInboundOut(.end(nil)))
                return
            }
        } catch {
            let refused = MerchantAPI.forwardRefusal(error)
            status = refused.status
            body = refused.body
            headers = refused.headers(body: body)
            code = refused.code.code
        }
        headers[.contentLength] = String(body.count)
        headers[.date] = HTTPDateText.now()
        headers[.server] = "tallystick"
        context.write(
            wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: headers))),
            promise: nil)
        if !body.isEmpty {
            context.write(
                wrapOutboundOut(.body(context.channel.allocator.buffer(bytes: body))),
                promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        MerchantMiddleware.record(
            api.metrics, logger: api.logger, method: "GET", route: convention.route,
            status: status.code, code: code, elapsed: ContinuousClock.now - start)
    }
}

/// The `Date` header's text (RFC 9110 §5.6.7, IMF-fixdate), made once a second.
enum HTTPDateText {
    private static let made = Mutex<(second: Int, text: String)>((-1, ""))
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]

    static func now() -> String {
        var seconds = time(nil)
        return made.withLock { made in
            if made.second == seconds { return made.text }
            var parts = tm()
            gmtime_r(&seconds, &parts)
            func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
            made = (
                seconds,
                "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) "
                    + "\(parts.tm_year + 1900) \(two(parts.tm_hour)):\(two(parts.tm_min)):"
                    + "\(two(parts.tm_sec)) GMT"
            )
            return made.text
        }
    }
}
