import TokenDomain

extension TokenEngine {
    /// Whether `presented` is a login token of `instance` that is valid now: a cheap lookup
    /// of its hash in the committed state, never a password check.
    ///
    /// The HTTP layer lets such a request past the login throttle: presenting a valid login
    /// token is not a password guess, so other clients' failures (a device retrying a revoked
    /// token) must not lock out the clients whose tokens work.
    public func presentsLiveLoginToken(_ presented: PresentedCredential, instance: InstanceID)
        -> Bool
    {
        guard case .secretToken(let text) = presented, let hash = loginTokenHash(text)
        else { return false }
        let now = clock.nowMicroseconds()
        return projection.read { c in
            guard let state = c.state[instance], state.isActive, state.token(hash: hash) != nil
            else { return false }
            return (try? state.permissions(of: .token(hash), at: now)) != nil
        }
    }

    /// The instance whose valid login token `presented` is, searching every instance: for the
    /// forward-auth check, which answers a token of another instance with 403 rather than
    /// 401 (spec §9). One hash lookup per instance, and only after the request's own
    /// instance refused the token.
    public func instanceHoldingToken(_ presented: PresentedCredential) -> InstanceID? {
        guard case .secretToken(let text) = presented, let hash = loginTokenHash(text) else {
            return nil
        }
        let now = clock.nowMicroseconds()
        return projection.read { c in
            c.state.instances.keys.sorted().first { id in
                guard let state = c.state[id], state.isActive, state.token(hash: hash) != nil
                else { return false }
                return (try? state.permissions(of: .token(hash), at: now)) != nil
            }
        }
    }
}
