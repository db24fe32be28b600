import TextCoding

/// Taler's error body (spec §2): `code`, `hint`, and `parameter` and `retry_counter` when
/// they help. Built from fixed texts and parameter names only: never a secret.
struct ErrorDetail: WireResponse {
    var code: Int
    var hint: String
    var parameter: String?
    var retryCounter: Int?

    func write(to w: inout JSONWriter) {
        w.beginObject()
        w.key("code")
        w.integer(code)
        w.key("hint")
        w.string(hint)
        if let parameter {
            w.key("parameter")
            w.string(parameter)
        }
        if let retryCounter {
            w.key("retry_counter")
            w.integer(retryCounter)
        }
        w.endObject()
    }
}
