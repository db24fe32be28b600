extension ServerState {
    /// Streams a canonical serialisation of the whole state into `sink`: instances sorted by
    /// id, tokens by serial, challenges by id, every field in a fixed order (layout in
    /// `EVENTS.md`).
    ///
    /// The same events folded in any process give the same bytes, so hashing them compares
    /// two replays, or a replay and the live server, in one line. Bytes reach the sink in
    /// chunks of at most 64 KiB.
    public func digest<Sink: DigestSink>(into sink: inout Sink) {
        let chunk = 1 << 16
        var writer = ByteWriter(capacity: chunk + 4096)
        func flushIfFull() {
            guard writer.bytes.count >= chunk else { return }
            writer.bytes.withUnsafeBytes { sink.update($0) }
            writer.bytes.removeAll(keepingCapacity: true)
        }
        writer.bytes.append(contentsOf: "tallystick-state".utf8)
        writer.u8(1)
        writer.u64(UInt64(instances.count))
        for id in instances.keys.sorted() {
            let instance = instances[id]!
            writer.string(id.rawValue)
            writer.i64(instance.createdAt)
            writer.string(instance.name)
            writer.u64(instance.credentialGeneration)
            writer.auth(instance.auth)
            writer.optionalString(instance.email)
            writer.optionalString(instance.phoneNumber)
            writer.u8((instance.emailValidated ? 1 : 0) | (instance.phoneValidated ? 2 : 0))
            writer.blob(instance.details)
            switch instance.lifecycle {
            case .active:
                writer.u8(0)
                writer.i64(0)
            case .deleted(let at):
                writer.u8(1)
                writer.i64(at)
            }
            writer.u64(UInt64(instance.tokens.count))
            flushIfFull()
            for token in instance.tokens {
                writer.u64(token.serial.rawValue)
                writer.hash(token.hash)
                writer.u8(token.scope.rawValue)
                writer.u8(token.refreshable ? 1 : 0)
                writer.i64(token.createdAt)
                writer.i64(token.expiry.rawValue)
                writer.origin(token.origin)
                if let revokedAt = token.revokedAt {
                    writer.u8(1)
                    writer.i64(revokedAt)
                } else {
                    writer.u8(0)
                    writer.i64(0)
                }
                writer.optionalString(token.description)
                flushIfFull()
            }
            if instance.hasChallengeState {
                // Only then, so digests of states without two-factor data stay those of
                // digest version 1.
                writer.u8(0xC7)
                writer.u64(UInt64(instance.challenges.count))
                for challengeID in instance.challenges.keys.sorted() {
                    writer.challengeState(instance.challenges[challengeID]!)
                    flushIfFull()
                }
                writer.u32(instance.challengeFailures)
                writer.bool(instance.loginsBlockedUntil != nil)
                writer.i64(instance.loginsBlockedUntil ?? 0)
            }
            if let fingerprint = instance.backendCredential {
                // Only then, so digests of states without one are unchanged.
                writer.u8(0xB5)
                for byte in fingerprint.bytes { writer.u8(byte) }
            }
        }
        if !writer.bytes.isEmpty {
            writer.bytes.withUnsafeBytes { sink.update($0) }
        }
    }
}
