/// Record the end of a login block whose time has passed (`instance-logins-unblocked`).
/// The block ends by time alone; produces no event while it lasts or when there is none.
public struct UnblockLogins: Hashable, Sendable {
    public init() {}
}
