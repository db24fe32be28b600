import Hummingbird
import TokenDomain

/// `GET /config` (spec §5): public, ignores any `Authorization` header.
extension MerchantAPI {
    func config() -> Response {
        let twoFactor = engine.configuration.twoFactor
        return ConfigResponse(
            mandatoryTANChannels: twoFactor.mandatory ? twoFactor.channels.sorted() : [],
            configuration: publicConfiguration
        ).response()
    }
}
