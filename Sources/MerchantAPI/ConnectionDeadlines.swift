import HummingbirdCore
import NIOCore
import NIOHTTPTypes

/// Closes a connection whose client is too slow (spec §10.5): a request's headers must arrive
/// within ``Timeouts/header`` of its first byte, its body within ``Timeouts/body`` of its
/// headers, and a keep-alive connection may sit idle between requests for ``Timeouts/idle``.
///
/// Without it a client that sends half a request holds a connection, and its file
/// descriptor, for ever: with the process's usual 1,024 descriptors, ~1,000 such clients
/// stopped the server from accepting anyone.
///
/// It sits in each connection's pipeline after the HTTP codec (Hummingbird's
/// `additionalChannelHandlers`), where it sees request heads and ends and the response's
/// end. In ``handlerAdded(context:)`` it also puts a small companion first in the pipeline,
/// before the HTTP decoder, that reports raw bytes: so the header clock starts at the first
/// byte of a request (however slowly the rest trickles in), not when the decoder is done.
///
/// One deadline holds at a time, on the connection's event loop's clock (`EventLoop.now`,
/// `scheduleTask`), so a test drives it with `EmbeddedEventLoop.advanceTime`:
/// - a new connection: *header*, from when it was accepted;
/// - head read: *body*, from the head, until the request's end is read (a body trickled in
///   byte by byte still has to be complete in time);
/// - request read, response not finished: none (the server's own time, e.g. a password
///   hash or a 2FA helper, bounded elsewhere);
/// - response finished, nothing in flight: *idle*, or *header* when bytes of the next
///   request arrived meanwhile (from the end of the response).
/// The timer behind it is lazy: a deadline that moves later keeps the timer already
/// scheduled, which on firing schedules itself again for the deadline then in force; only a
/// deadline earlier than the timer replaces it. A keep-alive connection thus schedules a timer
/// every few seconds, not two per request (they were ~8 % of the CPU of a forward-auth check).
/// When a deadline passes, the connection is closed without an answer. A body deadline first
/// fails the request's body stream with ``BodyTimedOut``, so a handler reading it stops with
/// an error instead of taking the bytes that came for the whole body (the log line says 408).
///
/// Pipelined bytes that come in the same read as the end of the request before them are not
/// seen as a new request's start; such a connection is closed by the idle deadline instead.
public final class ConnectionDeadlines: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    /// How long each part of a connection's life may take (settings `header-timeout`,
    /// `body-timeout`, `idle-timeout`).
    public struct Timeouts: Sendable, Equatable {
        /// From a request's first byte (or the connection's accept) to the end of its headers.
        public var header: TimeAmount
        /// From a request's headers to the end of its body.
        public var body: TimeAmount
        /// Between the end of a response and the first byte of the next request.
        public var idle: TimeAmount

        public init(
            header: TimeAmount = .seconds(10), body: TimeAmount = .seconds(30),
            idle: TimeAmount = .seconds(60)
        ) {
            self.header = header
            self.body = body
            self.idle = idle
        }

        /// The same in seconds (the settings' unit).
        public init(seconds header: Double, body: Double, idle: Double) {
            func amount(_ seconds: Double) -> TimeAmount { .nanoseconds(Int64(seconds * 1e9)) }
            self.init(header: amount(header), body: amount(body), idle: amount(idle))
        }
    }

    /// The deadline that is armed.
    public enum Phase: String, Sendable {
        case header, body, idle
    }

    /// The error a request's body stream ends with when its body deadline passed.
    public struct BodyTimedOut: Error, Sendable {}

    private let timeouts: Timeouts
    private let onTimeout: (@Sendable (Phase) -> Void)?
    /// The deadline in force, if any.
    private var deadline: (phase: Phase, at: NIODeadline)?
    /// The scheduled timer: at or before ``deadline`` while one is in force.
    private var timer: (at: NIODeadline, task: Scheduled<Void>)?
    /// Requests whose head was read and whose response has not ended.
    private var inFlight = 0
    /// A head was read and its end not yet.
    private var readingBody = false
    /// Bytes arrived that no decoded head accounts for yet: a request is starting (a new
    /// connection counts as one).
    private var pendingBytes = false
    private var started = false
    /// This handler's context, for the companion's reports (set while in a pipeline).
    private var context: ChannelHandlerContext?

    /// - Parameter onTimeout: called on the event loop when a deadline closes a connection
    ///   (for metrics); never with anything the client sent.
    public init(_ timeouts: Timeouts, onTimeout: (@Sendable (Phase) -> Void)? = nil) {
        self.timeouts = timeouts
        self.onTimeout = onTimeout
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        try? context.pipeline.syncOperations.addHandler(
            RawBytesWatcher(owner: self), position: .first)
        if context.channel.isActive { start(context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
        self.context = nil
    }

    public func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            inFlight += 1
            readingBody = true
            pendingBytes = false
            update(context, restart: true)
        case .body:
            break
        case .end:
            readingBody = false
            pendingBytes = false
            update(context, restart: true)
        }
        context.fireChannelRead(data)
    }

    public func write(
        context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?
    ) {
        if case .end = unwrapOutboundIn(data), inFlight > 0 {
            inFlight -= 1
            update(context, restart: !readingBody)
        }
        context.write(data, promise: promise)
    }

    /// Called by the companion when bytes arrive, before the decoder sees them.
    fileprivate func bytesArrived() {
        guard !readingBody, let context else { return }
        pendingBytes = true
        update(context, restart: false)
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        pendingBytes = true
        update(context, restart: true)
    }

    /// The deadline the connection's state calls for.
    private var wanted: Phase? {
        if readingBody { return .body }
        if inFlight > 0 { return nil }
        return pendingBytes ? .header : .idle
    }

    /// Sets the wanted deadline; keeps one of the same phase already in force unless `restart`.
    private func update(_ context: ChannelHandlerContext, restart: Bool) {
        let phase = wanted
        if !restart, deadline?.phase == phase { return }
        guard let phase, started else {
            deadline = nil
            return
        }
        let amount =
            switch phase {
            case .header: timeouts.header
            case .body: timeouts.body
            case .idle: timeouts.idle
            }
        let at = context.eventLoop.now + amount
        deadline = (phase, at)
        if let timer, timer.at <= at { return }
        arm(context, at: at)
    }

    /// Schedules the timer for `at`, replacing the one scheduled.
    private func arm(_ context: ChannelHandlerContext, at: NIODeadline) {
        timer?.task.cancel()
        let task = context.eventLoop.assumeIsolated().scheduleTask(deadline: at) {
            self.timerFired(context)
        }
        timer = (at, task)
    }

    /// Closes the connection if its deadline passed; otherwise waits for the deadline now in
    /// force, if any.
    private func timerFired(_ context: ChannelHandlerContext) {
        timer = nil
        guard let deadline else { return }
        guard deadline.at <= context.eventLoop.now else {
            arm(context, at: deadline.at)
            return
        }
        self.deadline = nil
        onTimeout?(deadline.phase)
        if deadline.phase == .body { context.fireErrorCaught(BodyTimedOut()) }
        context.close(promise: nil)
    }

    private func disarm() {
        timer?.task.cancel()
        timer = nil
        deadline = nil
    }
}

@available(*, unavailable)
extension ConnectionDeadlines: Sendable {}

/// The companion of ``ConnectionDeadlines``: first in the pipeline, it tells its owner when
/// raw bytes arrive (before the HTTP decoder has anything to say about them).
final class RawBytesWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// Weak: the owner's pipeline holds both; a strong pair would never be freed.
    private weak var owner: ConnectionDeadlines?

    init(owner: ConnectionDeadlines) { self.owner = owner }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        owner?.bytesArrived()
        context.fireChannelRead(data)
    }
}

@available(*, unavailable)
extension RawBytesWatcher: Sendable {}

extension ConnectionDeadlines {
    /// The HTTP/1 channel of both listeners: after the codec, a fresh ``ConnectionDeadlines``
    /// and ``ParserErrorHandler`` per connection, then, on the internal listener (`checks`),
    /// a ``ForwardAuthFastPath`` answering the proxy's checks. Tests build the same pipeline
    /// from it.
    public static func channelConfiguration(
        _ timeouts: Timeouts, onTimeout: (@Sendable (Phase) -> Void)? = nil,
        checks api: MerchantAPI? = nil
    ) -> HTTP1Channel.Configuration {
        HTTP1Channel.Configuration(
            additionalChannelHandlers: {
                var handlers: [any RemovableChannelHandler] = [
                    ConnectionDeadlines(timeouts, onTimeout: onTimeout), ParserErrorHandler(),
                ]
                if let api { handlers.append(ForwardAuthFastPath(api: api)) }
                return handlers
            }())
    }
}
