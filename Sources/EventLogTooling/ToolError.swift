/// A tool failure: one line for the operator, never a secret.
public struct ToolError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
