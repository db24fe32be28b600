/// Reads little-endian fields from a payload or snapshot, checking every length against the
/// bytes that remain: malformed input throws, it never reads out of bounds or traps.
///
/// Borrows `buffer`; valid only while the caller's pointer is. Throws ``Failure``, which
/// allocates nothing; each codec turns it into its public error (``EventDecodingError``,
/// ``SnapshotDecodingError``) at its boundary.
struct ByteReader {
    /// Where and why reading stopped.
    struct Failure: Error {
        enum Reason {
            case unsupportedLayoutVersion(UInt8)
            case truncated
            case invalidValue
            case invalidUTF8
            case trailingBytes(Int)
        }

        var field: StaticString
        var offset: Int
        var reason: Reason
    }

    let buffer: UnsafeRawBufferPointer
    private(set) var offset = 0

    init(_ buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
    }

    /// Moves to `offset`, a position this reader has been at before.
    mutating func seek(to offset: Int) {
        precondition(offset >= 0 && offset <= buffer.count)
        self.offset = offset
    }

    /// The bytes not read yet.
    var remaining: Int { buffer.count - offset }

    @inline(__always)
    func failure(_ reason: Failure.Reason, _ field: StaticString) -> Failure {
        Failure(field: field, offset: offset, reason: reason)
    }

    /// A failure of the field that started at `offset`.
    @inline(__always)
    func failure(_ reason: Failure.Reason, _ field: StaticString, at offset: Int) -> Failure {
        Failure(field: field, offset: offset, reason: reason)
    }

    /// Reserves `count` bytes and returns where they start.
    @inline(__always)
    private mutating func take(_ count: Int, _ field: StaticString) throws(Failure)
        -> Int
    {
        guard count <= buffer.count - offset else { throw failure(.truncated, field) }
        let start = offset
        offset += count
        return start
    }

    @inline(__always)
    mutating func u8(_ field: StaticString) throws(Failure) -> UInt8 {
        let start = try take(1, field)
        return buffer[start]
    }

    @inline(__always)
    mutating func bool(_ field: StaticString) throws(Failure) -> Bool {
        switch try u8(field) {
        case 0: return false
        case 1: return true
        default:
            offset -= 1
            throw failure(.invalidValue, field)
        }
    }

    @inline(__always)
    mutating func u32(_ field: StaticString) throws(Failure) -> UInt32 {
        let start = try take(4, field)
        return UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: start, as: UInt32.self))
    }

    @inline(__always)
    mutating func u64(_ field: StaticString) throws(Failure) -> UInt64 {
        let start = try take(8, field)
        return UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: start, as: UInt64.self))
    }

    @inline(__always)
    mutating func i64(_ field: StaticString) throws(Failure) -> Int64 {
        Int64(bitPattern: try u64(field))
    }

    @inline(__always)
    mutating func hash(_ field: StaticString) throws(Failure) -> TokenHash {
        let start = try take(TokenHash.byteCount, field)
        return TokenHash(unchecked: UnsafeRawBufferPointer(rebasing: buffer[start...]))
    }

    /// A serial, which is never 0.
    @inline(__always)
    mutating func serial(_ field: StaticString) throws(Failure) -> TokenSerial {
        let value = try u64(field)
        guard value != 0 else {
            offset -= 8
            throw failure(.invalidValue, field)
        }
        return TokenSerial(value)
    }

    /// The bytes of a `u32`-length-prefixed field.
    @inline(__always)
    private mutating func lengthPrefixed(_ field: StaticString) throws(Failure)
        -> UnsafeRawBufferPointer
    {
        let length = try u32(field)
        let start = try take(Int(length), field)
        return UnsafeRawBufferPointer(rebasing: buffer[start..<(start + Int(length))])
    }

    @inline(__always)
    mutating func blob(_ field: StaticString) throws(Failure) -> [UInt8] {
        Array(try lengthPrefixed(field))
    }

    @inline(__always)
    mutating func string(_ field: StaticString) throws(Failure) -> String {
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
    mutating func optionalString(_ field: StaticString) throws(Failure) -> String? {
        try bool(field) ? try string(field) : nil
    }

    mutating func auth() throws(Failure) -> InstanceAuth {
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
    mutating func origin() throws(Failure) -> TokenOrigin {
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
    mutating func scope(_ field: StaticString) throws(Failure) -> Scope {
        guard let scope = Scope(rawValue: try u8(field)) else {
            offset -= 1
            throw failure(.invalidValue, field)
        }
        return scope
    }

    /// Checks the leading layout version byte.
    @inline(__always)
    mutating func version(_ expected: UInt8) throws(Failure) {
        let version = try u8("version")
        guard version == expected else {
            offset -= 1
            throw failure(.unsupportedLayoutVersion(version), "version")
        }
    }

    /// A count of items that each take at least `minimumSize` bytes (`u64`): checked against
    /// the bytes that remain, so a damaged count cannot make the caller reserve memory for
    /// items that are not there.
    @inline(__always)
    mutating func count(_ field: StaticString, minimumSize: Int) throws(Failure) -> Int {
        let start = offset
        let value = try u64(field)
        guard value <= UInt64(remaining / minimumSize) else {
            throw failure(.truncated, field, at: start)
        }
        return Int(value)
    }

    /// Checks that the payload had nothing after the last field.
    func finish() throws(Failure) {
        guard offset == buffer.count else {
            throw failure(.trailingBytes(buffer.count - offset), "end")
        }
    }
}
