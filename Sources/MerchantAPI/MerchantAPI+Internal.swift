import Hummingbird

/// The routes of the internal listener (spec §10.7): what operators and the reverse proxy in
/// front of Tallystick may ask, but clients never may.
///
/// The server binds them only to `internal-listen` (a loopback address or a UNIX socket, see
/// ``InternalListenAddress``), in a second Hummingbird application beside the public one,
/// sharing this API's engine and metrics; the public router does not have them (404, code
/// 21): `/metrics`, and the forward-auth endpoints of spec §9, which hand out backend
/// credentials (``MerchantAPI+ForwardAuth.swift``).
extension MerchantAPI {
    /// Every route of the internal listener, with its handler.
    var internalTable: [Entry] {
        var entries: [Entry] = [
            (.get, "/metrics", false, { _, _, _ in self.metricsResponse() })
        ]
        for convention in ForwardConvention.all {
            entries.append(
                (
                    .get, convention.route, false,
                    { r, c, _ in try await self.forwardCheck(convention, r, c) }
                ))
        }
        // Envoy's ext_authz asks with the client's own method; the prefix alone (or with a
        // slash) is the root path.
        for method in Self.knownMethods {
            entries.append((method, Self.extAuthzPrefix + "/{path*}", false, extAuthz))
            entries.append((method, Self.extAuthzPrefix, false, extAuthz))
        }
        return entries
    }

    /// The routes the internal listener serves, in OpenAPI form, sorted by path then method.
    public var internalRoutes: [Route] { Self.routes(of: internalTable) }

    /// The internal listener's router (same middleware, 404s and 405s as the public one).
    public func buildInternalRouter() -> Router<MerchantRequestContext> {
        router(for: internalTable)
    }

    /// `GET /metrics`: the Prometheus exposition of ``MerchantMetrics``.
    func metricsResponse() -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.render())))
    }
}
