/// Appends little-endian fields to a byte array: the one writer behind event payloads and
/// the state digest, so both spell a field the same way.
struct ByteWriter {
    var bytes: [UInt8]

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func u8(_ value: UInt8) {
        bytes.append(value)
    }

    mutating func bool(_ value: Bool) {
        bytes.append(value ? 1 : 0)
    }

    mutating func u32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func u64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func i64(_ value: Int64) {
        u64(UInt64(bitPattern: value))
    }

    mutating func hash(_ value: TokenHash) {
        value.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    /// `u32` length + bytes.
    ///
    /// - Precondition: fewer than 2^32 bytes.
    mutating func blob(_ value: [UInt8]) {
        u32(UInt32(value.count))
        bytes.append(contentsOf: value)
    }

    /// `u32` length + UTF-8 bytes.
    mutating func string(_ value: String) {
        u32(UInt32(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    /// `u8` 0 (absent) or 1 followed by the string.
    mutating func optionalString(_ value: String?) {
        guard let value else {
            u8(0)
            return
        }
        u8(1)
        string(value)
    }

    /// Method byte (0 external, 1 password), then for a password: algorithm, log2N, r, p,
    /// salt, derived.
    mutating func auth(_ value: InstanceAuth) {
        switch value {
        case .external:
            u8(0)
        case .password(let hash):
            u8(1)
            string(hash.algorithm)
            u8(hash.log2N)
            u32(hash.r)
            u32(hash.p)
            blob(hash.salt)
            blob(hash.derived)
        }
    }

    /// Origin kind (0 password/bearer, 1 password/basic, 2 token) then the parent serial
    /// (0 unless kind 2).
    mutating func origin(_ value: TokenOrigin) {
        switch value {
        case .password(let basic):
            u8(basic ? 1 : 0)
            u64(0)
        case .token(let parent):
            u8(2)
            u64(parent.rawValue)
        }
    }
}
