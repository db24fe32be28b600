import TextCoding
import TokenDomain
import TokenEngine

/// A minted token (spec §5, `POST .../private/token`): the secret twice (`token` is the
/// deprecated name), the scope as requested, and the expiration.
struct LoginTokenSuccessResponse: WireResponse {
    var issued: IssuedToken

    func write(to w: inout JSONWriter) {
        w.beginObject()
        w.key("access_token")
        w.string(issued.accessToken)
        w.key("token")
        w.string(issued.accessToken)
        w.key("scope")
        w.string(issued.scope.wireName)
        w.key("refreshable")
        w.bool(issued.scope.refreshable)
        w.key("expiration")
        TalerTimestamp(issued.expiry).write(into: &w)
        w.endObject()
    }
}

extension TalerTimestamp {
    /// A token's expiry: its instant, or "never".
    init(_ expiry: TokenExpiry) {
        switch expiry {
        case .never: self = .never
        case .at(let micros): self.init(micros: micros)
        }
    }
}
