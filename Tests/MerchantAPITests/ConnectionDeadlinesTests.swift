import HTTPTypes
import HummingbirdCore
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import Synchronization
import Testing

@testable import MerchantAPI

/// Spec §10.5: slow clients are closed by their deadlines. Driven on an `EmbeddedChannel`
/// with the pipeline Hummingbird builds for a connection (HTTP codec, the server's
/// additional handlers) and the event loop's virtual clock: no sleeping, no wall clock.
@Suite("Connection deadlines")
struct ConnectionDeadlinesTests {
    static let timeouts = ConnectionDeadlines.Timeouts(
        header: .seconds(10), body: .seconds(30), idle: .seconds(60))

    /// A connected channel with the server's HTTP/1 pipeline, and the phases that timed out.
    final class Connection {
        /// The phases whose deadline closed the connection, as `onTimeout` reports them.
        final class Phases: Sendable {
            let seen = Mutex<[ConnectionDeadlines.Phase]>([])
        }

        let channel = EmbeddedChannel()
        let timedOut = Phases()

        init() throws {
            let pipeline = channel.pipeline.syncOperations
            try pipeline.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false,
                withOutboundHeaderValidation: false)
            try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            let timedOut = timedOut
            let configuration = ConnectionDeadlines.channelConfiguration(
                ConnectionDeadlinesTests.timeouts,
                onTimeout: { phase in timedOut.seen.withLock { $0.append(phase) } })
            try pipeline.addHandlers(configuration.additionalChannelHandlers())
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        }

        var isOpen: Bool { channel.isActive }
        var phases: [ConnectionDeadlines.Phase] { timedOut.seen.withLock { $0 } }

        func send(_ text: String) throws {
            try channel.writeInbound(ByteBuffer(string: text))
        }

        func advance(_ amount: TimeAmount) { channel.embeddedEventLoop.advanceTime(by: amount) }

        /// The request parts decoded so far.
        func parts() throws -> [HTTPRequestPart] {
            var out = [HTTPRequestPart]()
            while let part = try channel.readInbound(as: HTTPRequestPart.self) { out.append(part) }
            return out
        }

        /// Answers the request in flight with an empty 200.
        func respond() throws {
            try channel.writeOutbound(
                HTTPResponsePart.head(
                    HTTPResponse(status: .ok, headerFields: [.contentLength: "0"])))
            try channel.writeOutbound(HTTPResponsePart.end(nil))
            while try channel.readOutbound(as: ByteBuffer.self) != nil {}
        }
    }

    static let get = "GET /config HTTP/1.1\r\nHost: x\r\n\r\n"
    static let justUnder = TimeAmount.milliseconds(999)
    static let rest = TimeAmount.milliseconds(1)

    @Test func aNewConnectionThatSendsNothingIsClosedByTheHeaderDeadline() throws {
        let c = try Connection()
        c.advance(.seconds(9) + Self.justUnder)
        #expect(c.isOpen)
        c.advance(Self.rest)
        #expect(!c.isOpen)
        #expect(c.phases == [.header])
    }

    @Test func halfAHeaderTrickledInIsClosedTenSecondsAfterItsFirstByte() throws {
        let c = try Connection()
        try c.send(Self.get)
        #expect(try c.parts().count == 2)
        try c.respond()
        c.advance(.seconds(50))
        // The next request starts: its header clock runs from this first byte, and more
        // bytes (one a second, never the blank line) do not reset it.
        try c.send("GET /con")
        for byte in "fig HTTP/1.1\r\nHost: x\r\n".utf8.prefix(9) {
            c.advance(.seconds(1))
            try c.send(String(UnicodeScalar(byte)))
        }
        c.advance(Self.justUnder)
        #expect(c.isOpen)
        c.advance(Self.rest)
        #expect(!c.isOpen)
        #expect(c.phases == [.header])
        #expect(try c.parts().isEmpty)
    }

    @Test func halfABodyIsClosedThirtySecondsAfterItsHeadersHoweverItTrickles() throws {
        let c = try Connection()
        c.advance(.seconds(5))
        try c.send("POST /private/token HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        for _ in 0..<29 {
            c.advance(.seconds(1))
            try c.send(" ")
        }
        c.advance(Self.justUnder)
        #expect(c.isOpen)
        c.advance(Self.rest)
        #expect(!c.isOpen)
        #expect(c.phases == [.body])
    }

    @Test func aBodyDeadlineFailsTheBodyStreamBeforeTheClose() throws {
        let c = try Connection()
        try c.send("POST /private/token HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{}")
        c.advance(.seconds(30))
        #expect(throws: ConnectionDeadlines.BodyTimedOut.self) {
            try c.channel.throwIfErrorCaught()
        }
        #expect(!c.isOpen)
    }

    @Test func anIdleKeepAliveConnectionIsClosedAfterSixtySeconds() throws {
        let c = try Connection()
        for _ in 0..<3 {
            try c.send(Self.get)
            _ = try c.parts()
            try c.respond()
            c.advance(.seconds(59))
            #expect(c.isOpen)
        }
        c.advance(.seconds(1))
        #expect(!c.isOpen)
        #expect(c.phases == [.idle])
    }

    @Test func noDeadlineRunsWhileTheServerIsAnswering() throws {
        let c = try Connection()
        try c.send(Self.get)
        _ = try c.parts()
        c.advance(.seconds(3_600))
        #expect(c.isOpen)
        // Bytes of the next request that arrive meanwhile start its header clock only when
        // the answer is finished.
        try c.send("GET /con")
        c.advance(.seconds(600))
        #expect(c.isOpen)
        try c.respond()
        c.advance(.seconds(9) + Self.justUnder)
        #expect(c.isOpen)
        c.advance(Self.rest)
        #expect(!c.isOpen)
        #expect(c.phases == [.header])
    }

    @Test func anEarlyAnswerLeavesTheBodyDeadlineRunning() throws {
        let c = try Connection()
        try c.send("POST /private/token HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n")
        _ = try c.parts()
        c.advance(.seconds(10))
        try c.respond()  // e.g. 401 before reading the body
        c.advance(.seconds(19) + Self.justUnder)
        #expect(c.isOpen)
        c.advance(Self.rest)
        #expect(!c.isOpen)
        #expect(c.phases == [.body])
    }

    @Test func timeoutsAreCountedByPhaseInTheMetrics() {
        let metrics = MerchantMetrics()
        metrics.recordConnectionTimeout(.header)
        metrics.recordConnectionTimeout(.header)
        metrics.recordConnectionTimeout(.idle)
        let text = String(decoding: metrics.render(), as: UTF8.self)
        #expect(text.contains(#"tallystick_http_connections_timed_out_total{phase="header"} 2"#))
        #expect(text.contains(#"tallystick_http_connections_timed_out_total{phase="body"} 0"#))
        #expect(text.contains(#"tallystick_http_connections_timed_out_total{phase="idle"} 1"#))
    }

    @Test func aClientThatKeepsEachDeadlineIsNeverClosed() throws {
        let c = try Connection()
        for _ in 0..<5 {
            try c.send("P")
            c.advance(.seconds(9) + Self.justUnder)
            try c.send("OST /private/token HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n")
            c.advance(.seconds(29) + Self.justUnder)
            try c.send("{}")
            #expect(try c.parts().count == 3)
            c.advance(.seconds(3_000))
            try c.respond()
            c.advance(.seconds(59) + Self.justUnder)
        }
        #expect(c.isOpen)
        #expect(c.phases.isEmpty)
        try c.channel.close().wait()
        c.advance(.seconds(3_600))
        #expect(c.phases.isEmpty)
    }
}
