/// Comparisons of secrets whose running time does not depend on where the inputs differ.
///
/// Only the lengths may leak. Use it for passwords' derived bytes and any other secret the
/// engine compares; hash-table lookups by ``TokenHash`` do not need it.
public enum ConstantTime {
    /// Whether `lhs` and `rhs` hold the same bytes; every byte is read when the lengths match.
    public static func equals(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool
    {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<lhs.count {
            difference |= lhs[index] ^ rhs[index]
        }
        return difference == 0
    }

    /// Whether `lhs` and `rhs` hold the same bytes; see the buffer overload.
    public static func equals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        lhs.withUnsafeBytes { left in rhs.withUnsafeBytes { right in equals(left, right) } }
    }
}
