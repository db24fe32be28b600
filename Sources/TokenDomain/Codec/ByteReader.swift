/// Reads little-endian fields from a payload, checking every length against the bytes that
/// remain: malformed input throws, it never reads out of bounds or traps.
///
/// Borrows `buffer`; valid only while the caller's pointer is.
struct ByteReader {
    let buffer: UnsafeRawBufferPointer
    let tag: EventTag
    private(set) var offset = 0

    init(_ buffer: UnsafeRawBufferPointer, tag: EventTag) {
        self.buffer = buffer
        self.tag = tag
    }

    @inline(never)
    func failure(_ reason: EventDecodingError.Reason, _ field: StaticString) -> EventDecodingError {
        EventDecodingError(tag: tag.rawValue, field: "\(field)", offset: offset, reason: reason)
    }

    /// Reserves `count` bytes and returns where they start.
    @inline(__always)
    private mutating func take(_ count: Int, _ field: StaticString) throws(EventDecodingError)
        -> Int
    {
        guard count <= buffer.count - offset else { throw failure(.truncated, field) }
        let start = offset
        offset += count
        return start
    }

    @inline(__always)
    mutating func u8(_ field: StaticString) throws(EventDecodingError) -> UInt8 {
        let start = try take(1, field)
        return buffer[start]
    }

    @inline(__always)
    mutating func bool(_ field: StaticString) throws(EventDecodingError) -> Bool {
        switch try u8(field) {
        case 0: return false
        case 1: return true
        default:
            offset -= 1
            throw failure(.invalidValue, field)
        }
    }

    @inline(__always)
    mutating func u32(_ field: StaticString) throws(EventDecodingError) -> UInt32 {
        let start = try take(4, field)
        return UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: start, as: UInt32.self))
    }

    @inline(__always)
    mutating func u64(_ field: StaticString) throws(EventDecodingError) -> UInt64 {
        let start = try take(8, field)
        return UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: start, as: UInt64.self))
    }

    @inline(__always)
    mutating func i64(_ field: StaticString) throws(EventDecodingError) -> Int64 {
        Int64(bitPattern: try u64(field))
    }

    @inline(__always)
    mutating func hash(_ field: StaticString) throws(EventDecodingError) -> TokenHash {
        let start = try take(TokenHash.byteCount, field)
        return TokenHash(unchecked: UnsafeRawBufferPointer(rebasing: buffer[start...]))
    }

    /// A serial, which is never 0.
    @inline(__always)
    mutating func serial(_ field: StaticString) throws(EventDecodingError) -> TokenSerial {
        let value = try u64(field)
        guard value != 0 else {
            offset -= 8
            throw failure(.invalidValue, field)
        }
        return TokenSerial(value)
    }

    /// The bytes of a `u32`-length-prefixed field.
    @inline(__always)
    private mutating func lengthPrefixed(_ field: StaticString) throws(EventDecodingError)
        -> UnsafeRawBufferPointer
    {
        let length = try u32(field)
        let start = try take(Int(length), field)
        return UnsafeRawBufferPointer(rebasing: buffer[start..<(start + Int(length))])
    }

    @inline(__always)
    mutating func blob(_ field: StaticString) throws(EventDecodingError) -> [UInt8] {
        Array(try lengthPrefixed(field))
    }

    @inline(__always)
    mutating func string(_ field: StaticString) throws(EventDecodingError) -> String {
        let start = offset
        let bytes = try lengthPrefixed(field)
        // ASCII is valid UTF-8 and takes the fast path; the stdlib's validating initialiser
        // costs a generic-metadata lookup per call, so it is kept for the rest.
        var ascii = true
        for byte in bytes where byte >= 0x80 {
            ascii = false
            break
        }
        if ascii { return String(decoding: bytes, as: UTF8.self) }
        guard let value = String(validating: bytes, as: UTF8.self) else {
            offset = start
            throw failure(.invalidUTF8, field)
        }
        return value
    }

    @inline(__always)
    mutating func optionalString(_ field: StaticString) throws(EventDecodingError) -> String? {
        try bool(field) ? try string(field) : nil
    }

    mutating func auth() throws(EventDecodingError) -> InstanceAuth {
        switch try u8("auth.method") {
        case 0:
            return .external
        case 1:
            return .password(
                PasswordHash(
                    algorithm: try string("auth.algorithm"), log2N: try u8("auth.log2N"),
                    r: try u32("auth.r"), p: try u32("auth.p"), salt: try blob("auth.salt"),
                    derived: try blob("auth.derived")))
        default:
            offset -= 1
            throw failure(.invalidValue, "auth.method")
        }
    }

    @inline(__always)
    mutating func origin() throws(EventDecodingError) -> TokenOrigin {
        let kind = try u8("origin.kind")
        let parent = try u64("origin.parent")
        switch (kind, parent) {
        case (0, 0): return .password(basic: false)
        case (1, 0): return .password(basic: true)
        case (2, 1...): return .token(parent: TokenSerial(parent))
        default:
            offset -= 9
            throw failure(.invalidValue, "origin")
        }
    }

    @inline(__always)
    mutating func scope(_ field: StaticString) throws(EventDecodingError) -> Scope {
        guard let scope = Scope(rawValue: try u8(field)) else {
            offset -= 1
            throw failure(.invalidValue, field)
        }
        return scope
    }

    /// Checks the leading layout version byte.
    @inline(__always)
    mutating func version(_ expected: UInt8) throws(EventDecodingError) {
        let version = try u8("version")
        guard version == expected else {
            offset -= 1
            throw failure(.unsupportedLayoutVersion(version), "version")
        }
    }

    /// Checks that the payload had nothing after the last field.
    func finish() throws(EventDecodingError) {
        guard offset == buffer.count else {
            throw failure(.trailingBytes(buffer.count - offset), "end")
        }
    }
}
