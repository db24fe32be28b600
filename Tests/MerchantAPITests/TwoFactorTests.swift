import EventLog
import EventLogTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TokenDomain
import TokenEngine

@testable import MerchantAPI

@Suite("Two-factor authentication")
struct TwoFactorTests {
    static let minute: Int64 = 60_000_000

    /// A helper script that appends its argument and its standard input to `file`.
    static func recordingScript(in directory: TemporaryDirectory, file: String) throws -> String {
        let path = directory.appending("helper.sh")
        let script = "#!/bin/sh\n{ printf '%s\\n' \"$1\"; cat; printf '\\n--\\n'; } >> '\(file)'\n"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    @Test func theWholeFlowWithAHelperScriptMintsOnceAfterTheRightCode() async throws {
        let directory = try TemporaryDirectory(prefix: "tan")
        defer { directory.remove() }
        let messages = directory.appending("messages")
        let script = try Self.recordingScript(in: directory, file: messages)
        let sender = HelperPrograms(programs: [.email: script], timeout: .seconds(20))
        let h = try await TwoFactor.harness(sender: sender)
        let start = h.clock.nowMicroseconds()
        try await h.test { client in
            let first = try await client.call(
                .post, "/instances/kiosk/private/token", auth: TwoFactor.kioskBasic,
                json: TwoFactor.mintBody)
            #expect(first.status == .accepted)
            #expect(first.headers[.cacheControl] == "no-store")
            #expect(first.json["combi_and"]?.boolValue == false)
            let entries = try #require(first.json["challenges"]?.arrayValue)
            #expect(entries.count == 1)  // only e-mail has a helper
            #expect(entries[0]["tan_channel"]?.stringValue == "email")
            #expect(entries[0]["tan_info"]?.stringValue == "o***@example.com")
            let id = try #require(entries[0]["challenge_id"]?.stringValue)

            let sent = try await client.call(.post, "/instances/kiosk/challenge/\(id)", json: "{}")
            #expect(sent.status == .ok)
            #expect(
                sent.json["solve_expiration"]?["t_s"]?.integer == (start + 60 * Self.minute)
                    / 1_000_000)
            #expect(
                sent.json["earliest_retransmission"]?["t_s"]?.integer == (start + Self.minute)
                    / 1_000_000)
            let written = try String(contentsOfFile: messages, encoding: .utf8)
            let lines = written.split(separator: "\n")
            #expect(lines.first == "owner@example.com")
            let code = String(try #require(lines.dropFirst().first).prefix { $0 != " " })
            #expect(code.count == 8 && code.allSatisfy(\.isNumber))
            h.remember(code)

            let wrongCode = code == "00000000" ? "11111111" : "00000000"
            let wrong = try await client.call(
                .post, "/instances/kiosk/challenge/\(id)/confirm", json: #"{"tan":"\#(wrongCode)"}"#
            )
            #expect(wrong.status == .conflict)
            #expect(wrong.code == 2125)
            #expect(wrong.json["retry_counter"]?.integer == 2)

            let right = try await client.call(
                .post, "/instances/kiosk/challenge/\(id)/confirm", json: #"{"tan":"\#(code)"}"#)
            #expect(right.status == .noContent)

            let repeated = try await client.call(
                .post, "/instances/kiosk/private/token", auth: TwoFactor.kioskBasic,
                json: TwoFactor.mintBody, challengeIDs: [id])
            #expect(repeated.status == .ok)
            let token = try #require(repeated.json["access_token"]?.stringValue)
            h.remember(token)
            let used = try await client.call(.get, "/instances/kiosk/private", auth: bearer(token))
            #expect(used.status == .ok)
            #expect(used.json["email_validated"]?.boolValue == true)
            #expect(used.json["phone_validated"]?.boolValue == false)

            let again = try await client.call(
                .post, "/instances/kiosk/private/token", auth: TwoFactor.kioskBasic,
                json: TwoFactor.mintBody, challengeIDs: [id])
            #expect(again.status == .forbidden)
            #expect(again.code == 2031)
        }
        let kiosk = try #require(h.engine.instance(TwoFactor.kiosk))
        #expect(kiosk.tokens.count == 1)
        let types = try TwoFactor.eventTypes(h.log)
        #expect(types.contains("challenge-consumed.v1"))
        #expect(types.last == "token-issued.v1")
        try TwoFactor.expectNoSecretInEvents(h)
    }

    @Test func theChallengeEndpointsRefuseWithTheSpecifiedCodes() async throws {
        let sender = RecordingSender()
        let h = try await TwoFactor.harness(sender: sender)
        try await h.test { client in
            for path in [
                "/instances/kiosk/challenge/NOSUCHID",
                "/instances/kiosk/challenge/NOSUCHID/confirm", "/challenge/NOSUCHID",
            ] {
                let unknown = try await client.call(.post, path, json: #"{"tan":"1"}"#)
                #expect(unknown.status == .notFound, "\(path)")
                #expect(unknown.code == 2126)
            }
            let tooLong = String(repeating: "A", count: 65)
            let malformed = try await client.call(
                .post, "/instances/kiosk/challenge/\(tooLong)", json: "{}")
            #expect(malformed.code == 2126)

            let ids = try TwoFactor.challenges(
                try await client.call(
                    .post, "/instances/kiosk/private/token", auth: TwoFactor.kioskBasic,
                    json: TwoFactor.mintBody))
            #expect(Set(ids.keys) == ["sms", "email"])
            let id = try #require(ids["sms"])
            let path = "/instances/kiosk/challenge/\(id)"

            let noCodeYet = try await client.call(
                .post, path + "/confirm", json: #"{"tan":"12345678"}"#)
            #expect(noCodeYet.status == .tooManyRequests)
            #expect(noCodeYet.code == 2127)
            let missing = try await client.call(.post, path + "/confirm", json: "{}")
            #expect(missing.status == .badRequest)
            #expect(missing.code == 25)
            let otherInstance = try await client.call(.post, "/challenge/\(id)", json: "{}")
            #expect(otherInstance.status == .notFound)

            #expect(try await client.call(.post, path, json: "{}").status == .ok)
            let firstCode = try sender.lastCode(to: TwoFactor.phone)
            h.remember(firstCode)
            let early = try await client.call(.post, path, json: "{}")
            #expect(early.status == .tooManyRequests)
            #expect(early.code == 2130)
            #expect(early.headers[.retryAfter] == "60")
            h.clock.advance(by: Self.minute - 1)
            #expect(try await client.call(.post, path, json: "{}").code == 2130)
            h.clock.advance(by: 1)
            #expect(try await client.call(.post, path, json: "{}").status == .ok)
            let secondCode = try sender.lastCode(to: TwoFactor.phone)
            h.remember(secondCode)
            #expect(sender.count == 2)

            // Three attempts per code, counted down; then a new code is needed.
            let wrong = secondCode == "00000000" ? "99999999" : "00000000"
            for left in [2, 1, 0] {
                let answer = try await client.call(
                    .post, path + "/confirm", json: #"{"tan":"\#(wrong)"}"#)
                #expect(answer.status == .conflict)
                #expect(answer.json["retry_counter"]?.integer == Int64(left))
            }
            let usedUp = try await client.call(
                .post, path + "/confirm", json: #"{"tan":"\#(secondCode)"}"#)
            #expect(usedUp.status == .tooManyRequests)
            #expect(usedUp.code == 2127)

            h.clock.advance(by: Self.minute)
            #expect(try await client.call(.post, path, json: "{}").status == .ok)
            let thirdCode = try sender.lastCode(to: TwoFactor.phone)
            h.remember(thirdCode)
            if firstCode != thirdCode {
                let stale = try await client.call(
                    .post, path + "/confirm", json: #"{"tan":"\#(firstCode)"}"#)
                #expect(stale.status == .conflict)
            }
            #expect(
                try await client.call(.post, path + "/confirm", json: #"{"tan":"\#(thirdCode)"}"#)
                    .status == .noContent)

            let solvedSend = try await client.call(.post, path, json: "{}")
            #expect(solvedSend.status == .gone)
            #expect(solvedSend.code == 2129)
            let solvedConfirm = try await client.call(
                .post, path + "/confirm", json: #"{"tan":"\#(thirdCode)"}"#)
            #expect(solvedConfirm.status == .gone)
            #expect(solvedConfirm.code == 2129)
        }
        try TwoFactor.expectNoSecretInEvents(h)
    }

    @Test func theRepeatedRequestNeedsSolvedUnusedChallengesOfItsOwnInstanceOperationAndBody()
        async throws
    {
        let sender = RecordingSender(channels: [.email])
        let h = try await TwoFactor.harness(sender: sender)
        try await h.engine.createInstance(
            .init(
                id: InstanceID("cafe")!, name: "Cafe", auth: .password("cafe pass phrase"),
                email: "cafe@example.com"))
        h.remember("cafe pass phrase")
        try await h.test { client in
            let mint = "/instances/kiosk/private/token"
            let pending = try await TwoFactor.emailChallengeForMint(client: client)
            let unsolved = try await client.call(
                .post, mint, auth: TwoFactor.kioskBasic, json: TwoFactor.mintBody,
                challengeIDs: [pending])
            #expect(unsolved.status == .forbidden)
            #expect(unsolved.code == 2031)

            try await TwoFactor.solve(
                pending, at: TwoFactor.email, sender: sender, client: client, harness: h)
            let otherBody = try await client.call(
                .post, mint, auth: TwoFactor.kioskBasic, json: #"{"scope":"all"}"#,
                challengeIDs: [pending])
            #expect(otherBody.status == .forbidden)
            #expect(otherBody.code == 2031)
            let wrongPassword = try await client.call(
                .post, mint, auth: basic("kiosk", "not it"), json: TwoFactor.mintBody,
                challengeIDs: [pending])
            #expect(wrongPassword.status == .unauthorized)
            let malformed = try await client.call(
                .post, mint, auth: TwoFactor.kioskBasic, json: TwoFactor.mintBody,
                challengeIDs: ["no good!"])
            #expect(malformed.status == .badRequest)

            // Another instance's challenge is unknown here.
            let cafeID = try #require(
                try TwoFactor.challenges(
                    try await client.call(
                        .post, "/instances/cafe/private/token",
                        auth: basic("cafe", "cafe pass phrase"),
                        json: TwoFactor.mintBody))["email"])
            try await TwoFactor.solve(
                cafeID, at: "cafe@example.com", sender: sender, client: client, harness: h,
                instance: "cafe")
            let foreign = try await client.call(
                .post, mint, auth: TwoFactor.kioskBasic, json: TwoFactor.mintBody,
                challengeIDs: [cafeID])
            #expect(foreign.status == .notFound)
            #expect(foreign.code == 2126)

            // A challenge for another operation does not mint, and is still good for its own.
            let auth = "/instances/kiosk/private/auth"
            let authBody = #"{"method":"token","password":"new kiosk pass"}"#
            h.remember("new kiosk pass")
            let legacy = bearer(TwoFactor.kioskPassword)
            let change = try #require(
                try TwoFactor.challenges(
                    try await client.call(.post, auth, auth: legacy, json: authBody))["email"])
            h.clock.advance(by: Self.minute)
            try await TwoFactor.solve(
                change, at: TwoFactor.email, sender: sender, client: client, harness: h)
            let otherOperation = try await client.call(
                .post, mint, auth: TwoFactor.kioskBasic, json: TwoFactor.mintBody,
                challengeIDs: [change])
            #expect(otherOperation.status == .forbidden)
            #expect(otherOperation.code == 2031)

            // Expired: past the solve expiry the challenge is neither usable nor sendable.
            h.clock.advance(by: 61 * Self.minute)
            let expired = try await client.call(
                .post, mint, auth: TwoFactor.kioskBasic, json: TwoFactor.mintBody,
                challengeIDs: [pending])
            #expect(expired.status == .forbidden)
            #expect(expired.code == 2031)
            let expiredSend = try await client.call(
                .post, "/instances/kiosk/challenge/\(pending)", json: "{}")
            #expect(expiredSend.code == 2126)
            let late = try await client.call(
                .post, auth, auth: legacy, json: authBody, challengeIDs: [change])
            #expect(late.status == .forbidden)

            // A fresh challenge for the same request is recorded with the expiries.
            let fresh = try await client.call(
                .post, mint, auth: TwoFactor.kioskBasic, json: TwoFactor.mintBody)
            #expect(fresh.status == .accepted)
        }
        #expect(h.engine.instance(TwoFactor.kiosk)?.tokens.isEmpty == true)
        #expect(try TwoFactor.eventTypes(h.log).filter { $0 == "challenge-expired.v1" }.count == 2)
    }
}
