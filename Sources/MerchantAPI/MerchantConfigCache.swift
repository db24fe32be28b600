import Synchronization

/// The merchant backend's `GET /config` answer, kept for ``lifetime`` (spec §9: Tallystick's
/// `/config` is the merchant's with its own auth fields laid over it, "cached briefly").
/// A failed fetch is kept as long: while the merchant is down, `/config` answers from
/// Tallystick's own settings without asking it on every request.
final class MerchantConfigCache: Sendable {
    static let lifetime = Duration.seconds(30)

    private let kept = Mutex<(at: ContinuousClock.Instant, body: [UInt8]?)?>(nil)

    /// The kept answer while it is fresh; otherwise `fetch`'s, kept from now on. `nil` when
    /// the merchant could not be asked (or is being asked again soon).
    func body(fetch: () async -> [UInt8]?) async -> [UInt8]? {
        let now = ContinuousClock.now
        if let kept = kept.withLock({ $0 }), now - kept.at < Self.lifetime {
            return kept.body
        }
        let body = await fetch()
        kept.withLock { $0 = (now, body) }
        return body
    }
}
