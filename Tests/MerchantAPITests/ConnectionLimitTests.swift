import HummingbirdCore
import Logging
import NIOCore
import NIOEmbedded
import Testing

@testable import MerchantAPI

/// Spec §10.5: at its connection limit a listener stops accepting (it declines the server
/// channel's `read`, so NIO stops watching the socket) and resumes when a connection closes.
/// Driven with Hummingbird's own server-channel handler on embedded channels.
@Suite("Connection limit")
struct ConnectionLimitTests {
    /// Counts the `read`s that reach the server channel (each one lets it accept again).
    final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = Never
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    @Test func atTheLimitAcceptsStopAndResumeWhenAConnectionCloses() throws {
        let loop = EmbeddedEventLoop()
        let server = EmbeddedChannel(loop: loop)
        let counter = ReadCounter()
        try server.pipeline.syncOperations.addHandler(counter)
        try server.pipeline.syncOperations.addHandler(
            AvailableConnectionsChannelHandler(
                delegate: ConnectionLimit(maximum: 2, logger: Logger(label: "test"))))
        server.read()
        #expect(counter.reads == 1)

        let first = EmbeddedChannel(loop: loop)
        let second = EmbeddedChannel(loop: loop)
        try server.writeInbound(first as any Channel)
        server.read()
        #expect(counter.reads == 2)
        try server.writeInbound(second as any Channel)
        server.read()
        server.read()
        #expect(counter.reads == 2, "at the limit: no read, so no accept")

        try first.close().wait()
        loop.run()
        #expect(counter.reads == 3, "a connection closed: accepting again")
        let third = EmbeddedChannel(loop: loop)
        try server.writeInbound(third as any Channel)
        server.read()
        #expect(counter.reads == 3)
        try second.close().wait()
        try third.close().wait()
        loop.run()
        server.read()
        #expect(counter.reads == 5)
    }

    @Test func theLimitStaysBelowTheFileLimit() {
        #expect(ConnectionLimit.maximum(configured: 4096, fileLimit: 1024, reserved: 64) == 960)
        #expect(ConnectionLimit.maximum(configured: 100, fileLimit: 1024, reserved: 128) == 100)
        #expect(ConnectionLimit.maximum(configured: 4096, fileLimit: 256, reserved: 128) == 128)
        #expect(ConnectionLimit.maximum(configured: 4096, fileLimit: 60, reserved: 64) < 1)
        #expect(
            ConnectionLimit.maximum(configured: 4096, fileLimit: .max, reserved: 64) == 4096)
        #expect(ConnectionLimit.fileLimit() > ConnectionLimit.reservedDescriptors)
    }
}
