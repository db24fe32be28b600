import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Answers a request the HTTP parser rejects (an unknown method, a header without a colon,
/// `HTTP/9.9`, control bytes in a header) with 400 and a Taler error body (code 23) before the
/// connection closes, where Hummingbird alone would send an empty 400.
///
/// It sits in the channel pipeline after the HTTP codec: such requests never reach a route, so
/// ``MerchantMiddleware`` cannot answer them. It only speaks when no response is under way on
/// the connection (a parse error in the middle of a pipelined response leaves Hummingbird's
/// handling as it was).
public final class ParserErrorHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    private var responding = false

    public init() {}

    public func write(
        context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?
    ) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.kind != .informational: responding = true
        case .end: responding = false
        default: break
        }
        context.write(data, promise: promise)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError, !responding else {
            context.fireErrorCaught(error)
            return
        }
        let body = TalerError.malformedRequest.body
        var head = HTTPResponse(status: TalerError.malformedRequest.status)
        head.headerFields[.contentType] = "application/json"
        head.headerFields[.contentLength] = String(body.count)
        head.headerFields[.connection] = "close"
        responding = true
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(
            wrapOutboundOut(.body(context.channel.allocator.buffer(bytes: body))), promise: nil)
        let channel = context.channel
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenComplete { _ in channel.close(promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
    }
}
