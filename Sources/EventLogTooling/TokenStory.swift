import EventLog
import Foundation
import TextCoding
import TokenDomain
import TokenEngine

/// The whole story of one token, from the instance's stream: how and when it was minted, what
/// was minted from it, how and when it ended.
public struct TokenStory: Sendable {
    public struct Step: Sendable {
        public var sequence: UInt64
        public var recordedAt: Int64
    }

    public var instance: InstanceID
    public var issued: TokenIssued
    public var mintedAt: Step
    /// Tokens minted by refreshing with this one, in order.
    public var children: [(serial: TokenSerial, step: Step)]
    /// The revocation, if any.
    public var revoked: (event: TokenRevoked, step: Step)?
    /// When the instance was deleted or purged after the token was minted, if it was.
    public var instanceEnded: (how: String, step: Step)?

    /// Finds the token of `instance` by serial, or by the hash of its secret (`--token`:
    /// only the hash is looked up).
    /// - Throws: ``ToolError`` when there is no such instance or token.
    public static func find(
        in log: any EventStore, instance: InstanceID, serial: TokenSerial?, token: String?
    ) async throws
        -> TokenStory
    {
        let wanted: TokenHash?
        if let token {
            guard let hash = LoginTokenSecret.hash(ofPresented: token) else {
                throw ToolError("--token must be secret-token: followed by 52 characters")
            }
            wanted = hash
        } else {
            wanted = nil
        }
        let records = try await log.readStream(instance.rawValue, from: 1)
        guard !records.isEmpty else { throw ToolError("no instance \(instance) in the log") }
        var story: TokenStory?
        for record in records {
            let event: DomainEvent
            do {
                event = try EventCodec.decode(tag: record.type, payload: record.payload)
            } catch {
                throw ToolError("record \(record.sequence) does not decode: \(error)")
            }
            let step = Step(sequence: record.sequence, recordedAt: record.recordedAt)
            switch event {
            case .tokenIssued(let issued):
                if story == nil, issued.serial == serial || issued.hash == wanted {
                    story = TokenStory(
                        instance: instance, issued: issued, mintedAt: step, children: [],
                        revoked: nil,
                        instanceEnded: nil)
                } else if let s = story, case .token(let parent) = issued.origin,
                    parent == s.issued.serial
                {
                    story!.children.append((issued.serial, step))
                }
            case .tokenRevoked(let revoked):
                if let s = story, revoked.serial == s.issued.serial {
                    story!.revoked = (revoked, step)
                }
            case .instanceDeleted:
                if story != nil, story!.instanceEnded == nil {
                    story!.instanceEnded = ("instance deleted", step)
                }
            case .instancePurged:
                if story != nil, story!.instanceEnded == nil {
                    story!.instanceEnded = ("instance purged", step)
                }
            case .instanceCreated:
                // An instance created again after a purge starts its serials anew.
                if story != nil { return story! }
            default:
                break
            }
        }
        guard let story else {
            throw ToolError(
                serial.map { "instance \(instance) has no token with serial \($0.rawValue)" }
                    ?? "instance \(instance) has no token with that secret")
        }
        return story
    }

    /// How the token was minted, in words.
    public var mintedBy: String {
        switch issued.origin {
        case .password(let basic):
            basic ? "the instance password (Basic)" : "the instance password (Bearer)"
        case .token(let parent): "refreshing token \(parent.rawValue)"
        }
    }

    /// The token's status at `now`, judged from recorded times only.
    public func status(at now: Int64) -> TokenStatus {
        if let revoked, revoked.event.at <= now { return .revoked }
        if instanceEnded != nil, let ended = instanceEnded, ended.step.recordedAt <= now {
            return .revoked
        }
        return issued.expiry.hasPassed(at: now) ? .expired : .valid
    }

    public func text(now: Int64) -> String {
        var out = "token \(issued.serial.rawValue) of instance \(instance)\n"
        out +=
            "  minted   \(LogTool.formatTime(issued.issuedAt)) (record \(mintedAt.sequence)) with \(mintedBy)\n"
        out += "  scope    \(issued.tokenScope.wireName)"
        if let d = issued.description { out += ", \"\(d)\"" }
        out +=
            "\n  expires  "
            + (EventJSON.expiration(issued.expiry).map(LogTool.formatTime) ?? "never") + "\n"
        if children.isEmpty {
            out += "  minted from it: none\n"
        } else {
            out +=
                "  minted from it: "
                + children.map { "token \($0.serial.rawValue) (record \($0.step.sequence))" }
                .joined(separator: ", ") + "\n"
        }
        if let revoked {
            let how = revoked.event.reason == .selfRevoked ? "revoked itself" : "deleted by serial"
            out +=
                "  ended    \(how) at \(LogTool.formatTime(revoked.event.at)) (record \(revoked.step.sequence))\n"
        } else if let ended = instanceEnded {
            out +=
                "  ended    \(ended.how) at \(LogTool.formatTime(ended.step.recordedAt)) (record \(ended.step.sequence))\n"
        } else if case .at(let t) = issued.expiry, t <= now {
            out += "  ended    expired at \(LogTool.formatTime(t))\n"
        } else {
            out += "  ended    not yet\n"
        }
        out += "  status   \(EventJSON.status(status(at: now))) now\n"
        return out
    }

    public func json(now: Int64) -> String {
        JSONWriter.object { w in
            w.string("instance", instance.rawValue)
            w.number("serial", issued.serial.rawValue)
            w.number("sequence", mintedAt.sequence)
            w.string("scope", issued.tokenScope.wireName)
            w.bool("refreshable", issued.refreshable)
            w.timestamp("creation_time", TalerTimestamp(micros: issued.issuedAt))
            w.timestamp("expiration", TalerTimestamp(micros: EventJSON.expiration(issued.expiry)))
            w.string("description", issued.description)
            w.raw("minted_by", EventJSON.origin(issued.origin))
            w.array(
                "children",
                bytes: children.map { c in
                    JSONWriter.objectBytes { cw in
                        cw.number("serial", c.serial.rawValue)
                        cw.number("sequence", c.step.sequence)
                    }
                })
            if let revoked {
                w.object("ended") { e in
                    e.string("how", EventJSON.reason(revoked.event.reason))
                    e.number("at_us", revoked.event.at)
                    e.number("sequence", revoked.step.sequence)
                }
            } else if let ended = instanceEnded {
                w.object("ended") { e in
                    e.string("how", ended.how.replacingOccurrences(of: " ", with: "-"))
                    e.number("at_us", ended.step.recordedAt)
                    e.number("sequence", ended.step.sequence)
                }
            } else {
                w.raw("ended", "null")
            }
            w.string("status", EventJSON.status(status(at: now)))
        }
    }
}

extension TokenStory {
    /// The sequences of the story's events, in log order: minted, what was minted from it,
    /// how it ended.
    public var sequences: [UInt64] {
        var all = [mintedAt.sequence] + children.map(\.step.sequence)
        if let revoked { all.append(revoked.step.sequence) }
        if let ended = instanceEnded { all.append(ended.step.sequence) }
        return all.sorted()
    }

    /// For each event of the story, a proof against the newest signed tree head, or `nil`
    /// when that head does not cover it yet (`explain --proof`).
    /// - Throws: ``EventLogError`` when the log cannot be read.
    public func proofs(in log: any EventStore) async throws -> [(UInt64, InclusionProof?)] {
        let newest = try await log.newestSignedTreeHead()
        var out = [(UInt64, InclusionProof?)]()
        for sequence in sequences {
            guard let newest, sequence <= newest.treeSize else {
                out.append((sequence, nil))
                continue
            }
            out.append(
                (
                    sequence,
                    try await log.inclusionProof(sequence: sequence, treeSize: newest.treeSize)
                ))
        }
        return out
    }

    /// ``json(now:)`` with the proofs of ``proofs(in:)``:
    /// `{"story":{…},"proofs":[{"sequence","proof":{bundle}|null}…]}`.
    public func json(now: Int64, proofs: [(UInt64, InclusionProof?)]) -> String {
        JSONWriter.object { w in
            w.raw("story", json(now: now))
            w.array(
                "proofs",
                bytes: proofs.map { sequence, proof in
                    JSONWriter.objectBytes { p in
                        p.number("sequence", sequence)
                        p.raw("proof", proof?.json ?? "null")
                    }
                })
        }
    }
}
