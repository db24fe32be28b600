import TextCoding
import TokenDomain

/// `GET .../private/tokens`'s answer (spec §5): `{"tokens": [TokenInfo...]}`, never a secret.
struct TokenInfos: WireResponse {
    var tokens: [TokenRecord]

    func write(to w: inout JSONWriter) {
        w.beginObject()
        w.key("tokens")
        w.beginArray()
        for token in tokens { TokenInfo(token: token).write(to: &w) }
        w.endArray()
        w.endObject()
    }
}

/// One listed token: `creation_time`, `expiration`, `scope`, `refreshable`,
/// `description` (when it has one) and the opaque `serial`.
struct TokenInfo: WireResponse {
    var token: TokenRecord

    func write(to w: inout JSONWriter) {
        w.beginObject()
        w.key("creation_time")
        TalerTimestamp(micros: token.createdAt).write(into: &w)
        w.key("expiration")
        TalerTimestamp(token.expiry).write(into: &w)
        w.key("scope")
        w.string(token.tokenScope.wireName)
        w.key("refreshable")
        w.bool(token.refreshable)
        if let description = token.description {
            w.key("description")
            w.string(description)
        }
        w.key("serial")
        w.integer(token.serial.rawValue)
        w.endObject()
    }
}
