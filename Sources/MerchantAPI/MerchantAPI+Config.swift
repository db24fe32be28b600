import Hummingbird
import TokenDomain

/// `GET /config` (spec §5, §9): public, ignores any `Authorization` header. Standalone,
/// Tallystick's own answer; behind a merchant backend, the merchant's with
/// `mandatory_tan_channels` laid over it (Tallystick runs the challenges), and Tallystick's
/// own while the merchant cannot be asked.
extension MerchantAPI {
    func config() async -> Response {
        let twoFactor = engine.configuration.twoFactor
        let channels = twoFactor.mandatory ? twoFactor.channels.sorted() : []
        if let merchant = engine.configuration.merchant,
            let body = await merchantConfig.body(fetch: { try? await merchant.config() }),
            let overlaid = ConfigResponse.overlay(body, mandatoryTANChannels: channels)
        {
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: overlaid)))
        }
        return ConfigResponse(mandatoryTANChannels: channels, configuration: publicConfiguration)
            .response()
    }
}
