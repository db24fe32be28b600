import TextCoding
import TokenDomain

/// The body of `POST .../private/token` (spec §5): `scope` (required; `:refreshable` or the
/// deprecated `refreshable: true`), `duration?` (a `RelativeTime`, default one day),
/// `description?`.
struct LoginTokenRequest {
    var scope: TokenScope
    var duration: TokenDuration
    var description: String?

    /// - Throws: 400, code 22 (not a JSON object), 25 (no scope) or 26 (a malformed member).
    init(_ bytes: [UInt8]) throws(TalerError) {
        let body = try RequestFields.object(bytes)
        let wire = try RequestFields.requiredString(body, "scope")
        let refreshable = try RequestFields.optionalBool(body, "refreshable")
        guard let scope = TokenScope(wire: wire, deprecatedRefreshable: refreshable) else {
            throw .malformed("scope", "unknown scope")
        }
        self.scope = scope
        if let duration = body["duration"] {
            self.duration = try RequestFields.relativeTime(duration, parameter: "duration")
        } else {
            self.duration = .default
        }
        description = try RequestFields.optionalString(body, "description")
    }
}
