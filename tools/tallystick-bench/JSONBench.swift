import ArgumentParser
import Foundation
import TextCoding

/// What writing an answer's JSON costs: the project's ``JSONWriter`` (what the API uses, one
/// small writer per wire type) against Foundation's `JSONEncoder` with `Encodable` types of
/// the same shapes, for the two answers the HTTP targets rest on: a minted token and a
/// 20-token listing.
struct JSONBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "json",
        abstract: "Writing a mint answer and a 20-token listing: JSONWriter against JSONEncoder.",
        discussion: "Example: swift run -c release tallystick-bench json --rounds 50000")

    @Option(help: "Answers written per measurement.")
    var rounds = 50_000

    struct Timestamp: Encodable { var t_s: Int64 }
    struct TokenInfo: Encodable {
        var creation_time: Timestamp
        var expiration: Timestamp
        var scope: String
        var refreshable: Bool
        var description: String?
        var serial: UInt64
    }
    struct TokenInfos: Encodable { var tokens: [TokenInfo] }
    struct Minted: Encodable {
        var access_token: String
        var token: String
        var scope: String
        var refreshable: Bool
        var expiration: Timestamp
    }

    func run() throws {
        var tokens = [TokenInfo]()
        for n in 1...20 {
            let created = Timestamp(t_s: 1_790_000_000 + Int64(n))
            let expires = Timestamp(t_s: 1_790_086_400 + Int64(n))
            tokens.append(
                TokenInfo(
                    creation_time: created, expiration: expires, scope: "order-pos",
                    refreshable: n % 2 == 0, description: "Kasse \(n)", serial: UInt64(n)))
        }
        let listing = TokenInfos(tokens: tokens)
        let secret = "secret-token:" + String(repeating: "Q", count: 52)
        let minted = Minted(
            access_token: secret, token: secret, scope: "order-pos:refreshable",
            refreshable: true, expiration: .init(t_s: 1_790_086_400))
        let encoder = JSONEncoder()
        var rows = [(String, String, String)]()
        let mintWriter = try measure { Self.write(minted).count }
        let mintEncoder = try measure { try encoder.encode(minted).count }
        let listWriter = try measure { Self.write(listing).count }
        let listEncoder = try measure { try encoder.encode(listing).count }
        for (label, handWritten, encoded) in [
            ("mint answer", mintWriter, mintEncoder),
            ("20-token listing", listWriter, listEncoder),
        ] {
            rows.append(
                (
                    "\(label): JSONWriter / JSONEncoder",
                    String(format: "%.2f / %.2f µs", handWritten, encoded),
                    String(format: "%.1f×", encoded / handWritten)
                ))
        }
        printTable(rows)
    }

    /// µs per call, the best of five runs of `rounds` calls.
    func measure(_ body: () throws -> Int) throws -> Double {
        var best = Double.infinity
        var sink = 0
        for _ in 0..<5 {
            let start = ContinuousClock.now
            for _ in 0..<rounds { sink &+= try body() }
            let elapsed = ContinuousClock.now - start
            let micros =
                Double(elapsed.components.seconds) * 1e6
                + Double(elapsed.components.attoseconds) / 1e12
            best = min(best, micros / Double(rounds))
        }
        if sink == 42 { print("") }
        return best
    }

    static func write(_ m: Minted) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.key("access_token")
        w.string(m.access_token)
        w.key("token")
        w.string(m.token)
        w.key("scope")
        w.string(m.scope)
        w.key("refreshable")
        w.bool(m.refreshable)
        w.key("expiration")
        TalerTimestamp(seconds: m.expiration.t_s).write(into: &w)
        w.endObject()
        return w.bytes
    }

    static func write(_ l: TokenInfos) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.key("tokens")
        w.beginArray()
        for t in l.tokens {
            w.beginObject()
            w.key("creation_time")
            TalerTimestamp(seconds: t.creation_time.t_s).write(into: &w)
            w.key("expiration")
            TalerTimestamp(seconds: t.expiration.t_s).write(into: &w)
            w.key("scope")
            w.string(t.scope)
            w.key("refreshable")
            w.bool(t.refreshable)
            if let description = t.description {
                w.key("description")
                w.string(description)
            }
            w.key("serial")
            w.integer(t.serial)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.bytes
    }
}
