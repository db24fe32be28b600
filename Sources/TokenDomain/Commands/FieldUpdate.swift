/// A change to one optional field of an instance: keep it, or set it (to `nil` to clear).
public enum FieldUpdate<Value: Hashable & Sendable>: Hashable, Sendable {
    case keep
    case set(Value)

    /// The field's value after the update.
    public func applied(to current: Value) -> Value {
        switch self {
        case .keep: current
        case .set(let value): value
        }
    }
}
