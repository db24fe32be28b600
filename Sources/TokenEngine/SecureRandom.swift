/// Fresh bytes from the system's secure generator, for token secrets, TAN keys and challenge
/// ids.
enum SecureRandom {
    /// `count` random bytes, drawn eight at a time: each call of the system generator is a
    /// system call.
    static func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8]()
        bytes.reserveCapacity(count + 7)
        while bytes.count < count {
            withUnsafeBytes(of: generator.next() as UInt64) { bytes.append(contentsOf: $0) }
        }
        bytes.removeLast(bytes.count - count)
        return bytes
    }
}
