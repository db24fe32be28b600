/// Delete an instance (`DELETE .../private`, `?purge=yes` to purge).
///
/// Without purge an active instance becomes deleted; with purge an active or deleted
/// instance is removed from the state. Deleting an already deleted instance without purge is
/// rejected with code 2016 like every other command on it.
public struct DeleteInstance: Hashable, Sendable {
    public var purge: Bool

    public init(purge: Bool) {
        self.purge = purge
    }
}
