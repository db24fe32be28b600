import Crypto

/// The stored byte layout of a record (documented in `eventlog/FORMAT.md`) and its hash.
///
/// ```
/// canonical bytes:
///   u8   format version (1)
///   u64  global sequence        (little-endian, as every integer here)
///   u64  stream version
///   i64  recorded time, µs since the Unix epoch
///   16B  event id
///   u8   type tag length, then the tag (ASCII)
///   u16  stream id length, then the stream id (UTF-8)
///   u32  payload length, then the payload
/// then:
///   32B  previous record's hash
///   32B  this record's hash = SHA-256(previous hash ‖ canonical bytes)
/// ```
public enum RecordCodec {
    /// The envelope version this build writes and reads.
    public static let formatVersion: UInt8 = 1
    /// Largest payload accepted, in bytes.
    public static let maximumPayloadSize = 16 << 20
    /// Longest stream id, in UTF-8 bytes (LMDB keys are at most 511 bytes).
    public static let maximumStreamLength = 200
    static let fixedSize = 1 + 8 + 8 + 8 + 16 + 1 + 2 + 4 + 64

    /// Checks a type tag: 1...255 bytes of printable ASCII without spaces.
    static func validate(type: String) -> String? {
        let u = type.utf8
        if u.isEmpty || u.count > 255 { return "type tag must be 1...255 bytes" }
        if !u.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) {
            return "type tag must be printable ASCII without spaces"
        }
        return nil
    }

    /// Checks a stream id: 1...200 UTF-8 bytes, no NUL (the stream index separates with NUL).
    static func validate(stream: String) -> String? {
        let u = stream.utf8
        if u.isEmpty || u.count > maximumStreamLength {
            return "stream id must be 1...\(maximumStreamLength) bytes"
        }
        if u.contains(0) { return "stream id must not contain NUL" }
        return nil
    }

    /// Encodes one record, computing its hash. Returns the stored bytes and the hash.
    public static func encode(
        sequence: UInt64, stream: String, streamVersion: UInt64, recordedAt: Int64,
        event: ProposedEvent, previousHash: ChainHash
    ) -> (bytes: [UInt8], hash: ChainHash) {
        var stream = stream
        return stream.withUTF8 { streamBytes in
            var hash = previousHash
            let bytes = [UInt8](
                unsafeUninitializedCapacity: encodedSize(
                    streamBytes: streamBytes.count, event: event)
            ) { buffer, count in
                hash = encode(
                    into: UnsafeMutableRawBufferPointer(buffer), sequence: sequence,
                    stream: UnsafeRawBufferPointer(streamBytes), streamVersion: streamVersion,
                    recordedAt: recordedAt, event: event, previousHash: previousHash)
                count = buffer.count
            }
            return (bytes, hash)
        }
    }

    /// The stored size of a record of `event` in a stream id of `streamBytes` UTF-8 bytes.
    @inline(__always)
    static func encodedSize(streamBytes: Int, event: ProposedEvent) -> Int {
        fixedSize + event.type.utf8.count + streamBytes + event.payload.count
    }

    /// Writes one record into `out`, which must be exactly
    /// ``encodedSize(streamBytes:event:)`` bytes (LMDB's reserved space for the value, so the
    /// record is built where it is stored), and returns its hash.
    static func encode(
        into out: UnsafeMutableRawBufferPointer, sequence: UInt64, stream: UnsafeRawBufferPointer,
        streamVersion: UInt64, recordedAt: Int64, event: ProposedEvent, previousHash: ChainHash
    ) -> ChainHash {
        precondition(out.count == encodedSize(streamBytes: stream.count, event: event))
        var at = 0
        @inline(__always) func put<T: FixedWidthInteger>(_ value: T) {
            out.storeBytes(of: value.littleEndian, toByteOffset: at, as: T.self)
            at += MemoryLayout<T>.size
        }
        @inline(__always) func put(_ bytes: UnsafeRawBufferPointer) {
            guard let source = bytes.baseAddress, bytes.count > 0 else { return }
            (out.baseAddress! + at).copyMemory(from: source, byteCount: bytes.count)
            at += bytes.count
        }
        put(formatVersion)
        put(sequence)
        put(streamVersion)
        put(UInt64(bitPattern: recordedAt))
        // The event id is stored big-endian, as its 16 bytes read.
        out.storeBytes(of: event.id.high.bigEndian, toByteOffset: at, as: UInt64.self)
        out.storeBytes(of: event.id.low.bigEndian, toByteOffset: at + 8, as: UInt64.self)
        at += 16
        var type = event.type
        type.withUTF8 { t in
            put(UInt8(t.count))
            put(UnsafeRawBufferPointer(t))
        }
        put(UInt16(stream.count))
        put(stream)
        put(UInt32(event.payload.count))
        event.payload.withUnsafeBytes { put($0) }
        let canonical = UnsafeRawBufferPointer(rebasing: out[0..<at])
        let hash = chainHash(previous: previousHash, canonical: canonical)
        previousHash.withBytes { put($0) }
        hash.withBytes { put($0) }
        assert(at == out.count, "record encoder and encodedSize disagree")
        return hash
    }

    @inline(__always)
    static func append(_ value: UInt64, to out: inout [UInt8]) {
        var le = value.littleEndian
        withUnsafeBytes(of: &le) { out.append(contentsOf: $0) }
    }

    /// SHA-256 over the previous hash and the canonical bytes.
    public static func chainHash(previous: ChainHash, canonical: UnsafeRawBufferPointer)
        -> ChainHash
    {
        var hasher = SHA256()
        previous.withBytes { hasher.update(bufferPointer: $0) }
        hasher.update(bufferPointer: canonical)
        return hasher.finalize().withUnsafeBytes { ChainHash(bytes: $0) }
    }

    public static let brokenLink =
        "previous-hash field does not match the hash of the record before it"

    /// Why stored bytes do not decode.
    public struct DecodingError: Error, Equatable, Sendable {
        public var reason: String
    }

    /// Reads a stored record in place. Checks lengths and the format version; does not check
    /// the hash (see ``verifyHash(_:previous:)``).
    /// - Throws: ``DecodingError`` naming what is wrong.
    public static func view(_ bytes: UnsafeRawBufferPointer) throws(DecodingError) -> RecordView {
        // Every offset below is checked against `n` before it is read; loads go through the
        // base pointer so the hot replay path pays no per-slice bounds checks.
        let n = bytes.count
        guard n >= fixedSize, let base = bytes.baseAddress else {
            throw DecodingError(reason: "record of \(n) bytes is too short")
        }
        let version = base.load(as: UInt8.self)
        guard version == formatVersion else {
            throw DecodingError(reason: "unknown record format version \(version)")
        }
        @inline(__always) func u64(_ offset: Int) -> UInt64 {
            UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        }
        @inline(__always) func hash(_ offset: Int) -> ChainHash {
            ChainHash(
                w0: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self),
                w1: base.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self),
                w2: base.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self),
                w3: base.loadUnaligned(fromByteOffset: offset + 24, as: UInt64.self))
        }
        let id = EventID(
            high: UInt64(bigEndian: base.loadUnaligned(fromByteOffset: 25, as: UInt64.self)),
            low: UInt64(bigEndian: base.loadUnaligned(fromByteOffset: 33, as: UInt64.self)))
        let typeLength = Int(base.load(fromByteOffset: 41, as: UInt8.self))
        var offset = 42
        guard typeLength > 0, offset + typeLength + 2 <= n - 68 else {
            throw DecodingError(reason: "type tag length \(typeLength) does not fit the record")
        }
        let type = UnsafeRawBufferPointer(start: base + offset, count: typeLength)
        offset += typeLength
        let streamLength = Int(
            UInt16(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
        offset += 2
        guard streamLength > 0, offset + streamLength + 4 <= n - 64 else {
            throw DecodingError(reason: "stream id length \(streamLength) does not fit the record")
        }
        let stream = UnsafeRawBufferPointer(start: base + offset, count: streamLength)
        offset += streamLength
        let payloadLength = Int(
            UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        offset += 4
        guard offset + payloadLength == n - 64 else {
            throw DecodingError(
                reason: "payload length \(payloadLength) does not match the record size")
        }
        return RecordView(
            formatVersion: version, sequence: u64(1), streamVersion: u64(9),
            recordedAt: Int64(bitPattern: u64(17)), eventID: id, type: type, stream: stream,
            payload: UnsafeRawBufferPointer(start: base + offset, count: payloadLength),
            previousHash: hash(n - 64), hash: hash(n - 32),
            canonical: UnsafeRawBufferPointer(start: base, count: n - 64))
    }

    /// Checks one link of the chain: the record names `previous` as its predecessor's hash and
    /// its stored hash is SHA-256(previous ‖ canonical). Returns what is wrong, or `nil`.
    public static func verifyHash(_ record: RecordView, previous: ChainHash) -> String? {
        if record.previousHash != previous { return brokenLink }
        if chainHash(previous: previous, canonical: record.canonical) != record.hash {
            return "stored hash does not match the record's contents"
        }
        return nil
    }
}
