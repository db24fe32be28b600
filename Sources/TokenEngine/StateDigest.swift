import Crypto
import TextCoding
import TokenDomain

/// SHA-256 over the state's canonical bytes (instances sorted by id, tokens by serial), so two
/// replays, or a replay and the live server, compare in one line.
public enum StateDigest {
    struct Sink: DigestSink {
        var hasher = SHA256()
        mutating func update(_ bytes: UnsafeRawBufferPointer) {
            hasher.update(bufferPointer: bytes)
        }
    }

    /// Lower-case hex of the digest of `state`.
    public static func hex(of state: ServerState) -> String {
        var sink = Sink()
        state.digest(into: &sink)
        return Hex.encode(sink.hasher.finalize())
    }
}
