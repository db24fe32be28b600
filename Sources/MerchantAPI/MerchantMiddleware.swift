import Hummingbird
import Logging

/// Wraps every route: turns any thrown error into a Taler error body (``TalerError/from(_:)``),
/// records the request's metrics, writes one log line per request, and answers `HEAD`.
///
/// `HEAD` is `GET` without the body (RFC 9110 §9.3.2, spec §10.10): the router serves it on
/// every `GET` route by running the `GET` handler (Hummingbird's `autoGenerateHeadEndpoints`:
/// same authentication, status and headers, `Content-Length` included), and this middleware
/// drops the body of every answer to `HEAD`, errors included (404 on an unknown path, 405
/// where `GET` is not served). swift-nio's HTTP encoder would keep a body off the wire too
/// (a client reads none after a `HEAD` answer and would take it for the next response); the
/// server does not rely on that.
///
/// The log line holds the request id (Hummingbird's `hb.request.id`), method, route template,
/// status and duration: never a header, a body, a query string or a path with its values, so
/// no secret can reach the log.
struct MerchantMiddleware: RouterMiddleware {
    typealias Context = MerchantRequestContext
    let metrics: MerchantMetrics
    /// The served path templates, split into segments: an unmatched request on one of them
    /// used a method the router has no entry for (405, code 20), not an unknown path.
    let knownPaths: [[Substring]]

    func handle(
        _ request: Request, context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        var response: Response
        var failure: TalerError?
        do {
            response = try await next(request, context)
        } catch {
            var taler = TalerError.from(error)
            if taler.code == .genericEndpointUnknown,
                MerchantAPI.matches(request.uri.path, known: knownPaths)
            {
                taler = .methodInvalid
            }
            failure = taler
            response = taler.response()
            if taler.code == .genericInternalInvariantFailure {
                context.logger.error(
                    "unexpected error", metadata: ["error.type": "\(type(of: error))"])
            }
        }
        if request.method == .head { response = response.createHeadResponse() }
        Self.record(
            metrics, logger: context.logger, method: request.method.rawValue,
            route: context.endpointPath ?? "unknown", status: response.status.code,
            code: failure?.code.code, elapsed: ContinuousClock.now - start)
        return response
    }

    /// Records a request's metrics and writes its log line (also for the checks that
    /// ``ForwardAuthFastPath`` answers without a route).
    static func record(
        _ metrics: MerchantMetrics, logger: Logger, method: String, route: String, status: Int,
        code: Int?, elapsed: Duration
    ) {
        metrics.recordRequest(route: route, method: method, status: status, duration: elapsed)
        logger.info(
            "request",
            metadata: {
                var metadata: Logger.Metadata = [
                    "http.method": "\(method)",
                    "http.route": "\(route)",
                    "http.status": "\(status)",
                    "duration_us": "\(elapsed.nanoseconds / 1000)",
                ]
                if let code { metadata["taler.code"] = "\(code)" }
                return metadata
            }())
    }
}
