/// Record the expiry of every pending or solved challenge past its solve expiry at the
/// context's `now` (a periodic sweep). Expiry already counts without it; the events make
/// it visible in the log. Produces no event when nothing expired.
public struct ExpireChallenges: Hashable, Sendable {
    public init() {}
}
