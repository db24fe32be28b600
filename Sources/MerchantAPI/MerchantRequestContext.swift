import Hummingbird
import NIOCore

/// The request context of the merchant API: Hummingbird's core storage plus the peer's
/// address, from which ``MerchantAPI`` finds the client's (``TrustedProxies``).
public struct MerchantRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    private let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        channel = source.channel
    }

    /// The TCP peer's IP address, or `nil` when it has none (a UNIX socket; the in-process
    /// test client). Read only when asked: only requests presenting credentials need it.
    public var peerAddress: IPAddress? { IPAddress(peerOf: channel) }

    /// Request bodies of this API are small JSON objects; larger ones get 413 (code 32).
    public var maxUploadSize: Int { MerchantAPI.maximumBodyBytes }
}
