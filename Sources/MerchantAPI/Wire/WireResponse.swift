import Hummingbird
import TextCoding

/// A Taler wire shape the API answers with (spec §2, §5, §6): each has one Swift type, in
/// this folder, that writes its JSON with the shared ``JSONWriter``.
///
/// One small writer per type rather than `Encodable`: `JSONEncoder` took 91 µs for a 20-token
/// listing against 13 µs here (BENCHMARKS.md, "Writing JSON"), which the listing target
/// cannot afford; members are written in Taler's order, optional ones left out when absent.
protocol WireResponse: Sendable {
    /// Writes the value as the writer's next JSON value.
    func write(to writer: inout JSONWriter)
}

extension WireResponse {
    /// The value as a complete JSON document.
    var jsonBytes: [UInt8] {
        var writer = JSONWriter()
        write(to: &writer)
        return writer.bytes
    }

    /// The HTTP answer: `Content-Type: application/json`, and `Cache-Control: no-store` for
    /// answers that carry or list credentials or challenges (spec §2).
    func response(status: HTTPResponse.Status = .ok, noStore: Bool = false) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if noStore { headers[.cacheControl] = "no-store" }
        return Response(
            status: status, headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: jsonBytes)))
    }
}
