import TextCoding

/// The answers of `/audit/*`: a signed tree head, an inclusion proof or a consistency proof,
/// each written by its own type in `EventLog` (``SignedTreeHead/json``,
/// ``InclusionProof/json``, ``ConsistencyProof/json``) so that the API, `tallystick-log` and
/// `check-proof` share one shape; this carries that document as the body.
struct AuditDocument: WireResponse {
    var json: String

    func write(to w: inout JSONWriter) {
        w.raw(Array(json.utf8))
    }
}
