import Hummingbird
import NIOCore

/// The request context of the merchant API: Hummingbird's core storage plus the client's
/// address, which the login throttle counts failures by.
public struct MerchantRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    private let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        channel = source.channel
    }

    /// The peer's IP address, or `"unknown"` (in-process tests have no peer). Formatted only
    /// when asked: only requests presenting credentials need it.
    public var clientAddress: String { channel.remoteAddress?.ipAddress ?? "unknown" }

    /// Request bodies of this API are small JSON objects; larger ones get 413 (code 32).
    public var maxUploadSize: Int { MerchantAPI.maximumBodyBytes }
}
