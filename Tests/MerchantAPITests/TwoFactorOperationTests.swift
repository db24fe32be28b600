import EventLog
import EventLogTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TextCoding
import TokenDomain
import TokenEngine

@testable import MerchantAPI

@Suite("Two-factor authentication: operations, channels, helpers, blocking, replay")
struct TwoFactorOperationTests {
    static let minute: Int64 = 60_000_000

    @Test func withCombiAndEveryChannelMustBeSolvedAndWithoutItAnyOne() async throws {
        for all in [true, false] {
            let sender = RecordingSender()
            let h = try await TwoFactor.harness(sender: sender, allChannels: all)
            try await h.test { client in
                let mint = "/instances/kiosk/private/token"
                let first = try await client.call(
                    .post, mint, auth: TwoFactor.kioskBasic, json: TwoFactor.mintBody)
                #expect(first.json["combi_and"]?.boolValue == all)
                let ids = try TwoFactor.challenges(first)
                let sms = try #require(ids["sms"])
                let email = try #require(ids["email"])
                #expect(
                    first.json["challenges"]?.arrayValue?.first?["tan_info"]?.stringValue
                        == "+*********67")
                try await TwoFactor.solve(
                    sms, at: TwoFactor.phone, sender: sender, client: client, harness: h)
                let one = try await client.call(
                    .post, mint, auth: TwoFactor.kioskBasic, json: TwoFactor.mintBody,
                    challengeIDs: [sms])
                if all {
                    #expect(one.status == .forbidden)
                    #expect(one.code == 2031)
                    let unsolvedToo = try await client.call(
                        .post, mint, auth: TwoFactor.kioskBasic, json: TwoFactor.mintBody,
                        challengeIDs: [sms, email])
                    #expect(unsolvedToo.status == .forbidden)
                    try await TwoFactor.solve(
                        email, at: TwoFactor.email, sender: sender, client: client, harness: h)
                    let both = try await client.call(
                        .post, mint, auth: TwoFactor.kioskBasic, json: TwoFactor.mintBody,
                        challengeIDs: [email, sms])
                    #expect(both.status == .ok)
                    h.remember(try #require(both.json["access_token"]?.stringValue))
                } else {
                    #expect(one.status == .ok)
                    h.remember(try #require(one.json["access_token"]?.stringValue))
                }
            }
            #expect(h.engine.instance(TwoFactor.kiosk)?.tokens.count == 1)
            #expect(h.engine.instance(TwoFactor.kiosk)?.phoneValidated == true)
            try TwoFactor.expectNoSecretInEvents(h)
        }
    }

    @Test func credentialChangesAndDeletionsAreProtectedAndLoginTokenMintsAreNot() async throws {
        let sender = RecordingSender(channels: [.email])
        let h = try await TwoFactor.harness(sender: sender)
        try await h.test { client in
            let mint = "/instances/kiosk/private/token"
            let token = try await TwoFactor.mintThroughEmail(
                sender: sender, client: client, harness: h)

            // Refreshing with a login token is not protected.
            let refreshed = try await client.call(
                .post, mint, auth: bearer(token), json: #"{"scope":"readonly"}"#)
            #expect(refreshed.status == .ok)
            h.remember(try #require(refreshed.json["access_token"]?.stringValue))

            // A credential change is, even with a login token.
            let body = #"{"method":"token","password":"kiosk second pass"}"#
            h.remember("kiosk second pass")
            let change = try #require(
                try TwoFactor.challenges(
                    try await client.call(
                        .post, "/instances/kiosk/private/auth", auth: bearer(token), json: body))[
                        "email"])
            try await TwoFactor.solve(
                change, at: TwoFactor.email, sender: sender, client: client, harness: h)
            let changed = try await client.call(
                .post, "/instances/kiosk/private/auth", auth: bearer(token), json: body,
                challengeIDs: [change])
            #expect(changed.status == .noContent)
            let oldPassword = try await client.call(
                .post, mint, auth: TwoFactor.kioskBasic, json: TwoFactor.mintBody)
            #expect(oldPassword.status == .unauthorized)
            let newPassword = try await client.call(
                .post, mint, auth: basic("kiosk", "kiosk second pass"), json: TwoFactor.mintBody)
            #expect(newPassword.status == .accepted)

            // So is a deletion; the purge parameter is part of what the challenge binds.
            let deletion = try #require(
                try TwoFactor.challenges(
                    try await client.call(.delete, "/instances/kiosk/private", auth: bearer(token)))[
                        "email"])
            try await TwoFactor.solve(
                deletion, at: TwoFactor.email, sender: sender, client: client, harness: h)
            let otherParameters = try await client.call(
                .delete, "/instances/kiosk/private?purge=yes", auth: bearer(token), json: nil,
                challengeIDs: [deletion])
            #expect(otherParameters.status == .forbidden)
            let deleted = try await client.call(
                .delete, "/instances/kiosk/private", auth: bearer(token), json: nil,
                challengeIDs: [deletion])
            #expect(deleted.status == .noContent)
            #expect(h.engine.instance(TwoFactor.kiosk)?.isActive == false)
        }
        try TwoFactor.expectNoSecretInEvents(h)
    }

    @Test func managementOperationsAreBoundToTheTargetInstancesChallenges() async throws {
        let sender = RecordingSender(channels: [.email])
        let h = try await TwoFactor.harness(sender: sender)
        try await h.test { client in
            let admin = try await client.mint(
                auth: basic("admin", APIHarness.adminPassword), harness: h)
            let path = "/management/instances/kiosk"
            let id = try #require(
                try TwoFactor.challenges(try await client.call(.delete, path, auth: bearer(admin)))[
                    "email"])
            let atRoot = try await client.call(.post, "/challenge/\(id)", json: "{}")
            #expect(atRoot.status == .notFound)
            try await TwoFactor.solve(
                id, at: TwoFactor.email, sender: sender, client: client, harness: h)
            let deleted = try await client.call(
                .delete, path, auth: bearer(admin), json: nil, challengeIDs: [id])
            #expect(deleted.status == .noContent)
            // Instances without an address are not protected.
            let shop = try await client.call(
                .delete, "/management/instances/shop", auth: bearer(admin))
            #expect(shop.status == .noContent)
        }
    }

    @Test func aFailingOrHangingHelperGives502AndRecordsNothing() async throws {
        let directory = try TemporaryDirectory(prefix: "tan-helper")
        defer { directory.remove() }
        let failing = directory.appending("failing.sh")
        try "#!/bin/sh\ncat >/dev/null\nexit 3\n".write(
            toFile: failing, atomically: true, encoding: .utf8)
        let hanging = directory.appending("hanging.sh")
        try "#!/bin/sh\nexec tail -f /dev/null\n".write(
            toFile: hanging, atomically: true, encoding: .utf8)
        for path in [failing, hanging] {
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        }
        let sender = HelperPrograms(
            programs: [.email: failing, .sms: hanging], timeout: .milliseconds(300))
        let h = try await TwoFactor.harness(sender: sender)
        try await h.test { client in
            let ids = try TwoFactor.challenges(
                try await client.call(
                    .post, "/instances/kiosk/private/token", auth: TwoFactor.kioskBasic,
                    json: TwoFactor.mintBody))
            let before = try h.log.head().sequence
            for id in [ids["email"], ids["sms"]] {
                let answer = try await client.call(
                    .post, "/instances/kiosk/challenge/\(try #require(id))", json: "{}")
                #expect(answer.status == .badGateway)
                #expect(answer.code == 2128)
            }
            #expect(try h.log.head().sequence == before)
            // Nothing was recorded, so asking again is not "too early".
            let again = try await client.call(
                .post, "/instances/kiosk/challenge/\(try #require(ids["email"]))", json: "{}")
            #expect(again.code == 2128)
        }
    }

    @Test func aHelperThatTakesItsTimeHoldsUpNothingElse() async throws {
        let sender = RecordingSender(channels: [.email])
        let h = try await TwoFactor.harness(sender: sender)
        try await h.test { client in
            let mint = "/instances/kiosk/private/token"
            let token = try await TwoFactor.mintThroughEmail(
                sender: sender, client: client, harness: h)
            let second = try await TwoFactor.emailChallengeForMint(client: client)

            sender.hold()
            var started = sender.started.makeAsyncIterator()
            async let transmission = client.call(
                .post, "/instances/kiosk/challenge/\(second)", json: "{}")
            _ = await started.next()  // the solve above yielded once per send
            _ = await started.next()
            // While the helper runs: the same instance mints, and a second request for the
            // same challenge is refused at once instead of sending another code.
            let refreshed = try await client.call(
                .post, mint, auth: bearer(token), json: #"{"scope":"readonly"}"#)
            #expect(refreshed.status == .ok)
            h.remember(try #require(refreshed.json["access_token"]?.stringValue))
            let concurrent = try await client.call(
                .post, "/instances/kiosk/challenge/\(second)", json: "{}")
            #expect(concurrent.code == 2130)
            sender.release()
            #expect(try await transmission.status == .ok)
        }
        #expect(sender.count == 2)
    }

    @Test func failedTokenChallengesBlockPasswordLoginsUntilTheBlockEnds() async throws {
        let sender = RecordingSender(channels: [.email])
        let h = try await TwoFactor.harness(sender: sender) { policy in
            policy.loginBlockThreshold = 4
            policy.loginBlockDuration = 10 * Self.minute
        }
        try await h.test { client in
            let mint = "/instances/kiosk/private/token"
            let solvedEarlier = try await TwoFactor.emailChallengeForMint(client: client)
            try await TwoFactor.solve(
                solvedEarlier, at: TwoFactor.email, sender: sender, client: client, harness: h)
            let id = try #require(
                try TwoFactor.challenges(
                    try await client.call(
                        .post, mint, auth: TwoFactor.kioskBasic, json: #"{"scope":"readonly"}"#))[
                        "email"])
            let path = "/instances/kiosk/challenge/\(id)"
            var failures = 0
            while failures < 4 {
                h.clock.advance(by: Self.minute)
                #expect(try await client.call(.post, path, json: "{}").status == .ok)
                let code = try sender.lastCode(to: TwoFactor.email)
                h.remember(code)
                let wrong = code == "00000000" ? "00000001" : "00000000"
                for _ in 0..<2 where failures < 4 {
                    let answer = try await client.call(
                        .post, path + "/confirm", json: #"{"tan":"\#(wrong)"}"#)
                    #expect(answer.status == .conflict)
                    failures += 1
                }
            }
            #expect(try TwoFactor.eventTypes(h.log).last == "instance-logins-blocked.v1")
            let blocked = try await client.call(
                .post, mint, auth: TwoFactor.kioskBasic, json: TwoFactor.mintBody)
            #expect(blocked.status == .forbidden)
            #expect(blocked.code == 2131)
            let viaSolved = try await client.call(
                .post, mint, auth: TwoFactor.kioskBasic, json: TwoFactor.mintBody,
                challengeIDs: [solvedEarlier])
            #expect(viaSolved.code == 2131)
            #expect(try await client.call(.post, path, json: "{}").code == 2131)

            h.clock.advance(by: 10 * Self.minute)
            let after = try await client.call(
                .post, mint, auth: TwoFactor.kioskBasic, json: TwoFactor.mintBody,
                challengeIDs: [solvedEarlier])
            #expect(after.status == .ok)
            h.remember(try #require(after.json["access_token"]?.stringValue))
        }
        let types = try TwoFactor.eventTypes(h.log)
        #expect(types.contains("instance-logins-unblocked.v1"))
        #expect(types.last == "token-issued.v1")
        try TwoFactor.expectNoSecretInEvents(h)
    }

    @Test func mandatoryTwoFactorRefusesAnAddressNoHelperServes() async throws {
        let sender = RecordingSender(channels: [.email])
        let h = try await TwoFactor.harness(sender: sender, mandatory: true)
        try await h.engine.createInstance(
            .init(
                id: InstanceID("phoneonly")!, name: "P", auth: .password("phone only pass"),
                phoneNumber: "+41000000000"))
        h.remember("phone only pass")
        try await h.test { client in
            let config = try await client.call(.get, "/config")
            #expect(config.json["mandatory_tan_channels"]?.arrayValue == [.string("email")])
            let refused = try await client.call(
                .post, "/instances/phoneonly/private/token",
                auth: basic("phoneonly", "phone only pass"),
                json: TwoFactor.mintBody)
            #expect(refused.status == .forbidden)
            #expect(refused.code == 2031)
            let noAddress = try await client.call(
                .post, "/instances/shop/private/token",
                auth: basic("shop", APIHarness.shopPassword),
                json: TwoFactor.mintBody)
            #expect(noAddress.status == .ok)
            h.remember(try #require(noAddress.json["access_token"]?.stringValue))
            let kiosk = try await client.call(
                .post, "/instances/kiosk/private/token", auth: TwoFactor.kioskBasic,
                json: TwoFactor.mintBody)
            #expect(try TwoFactor.challenges(kiosk).keys.sorted() == ["email"])
        }
    }

    @Test func replayingTheLogReproducesEveryChallengeState() async throws {
        let sender = RecordingSender()
        let h = try await TwoFactor.harness(sender: sender)
        try await h.test { client in
            let mint = "/instances/kiosk/private/token"
            let ids = try TwoFactor.challenges(
                try await client.call(
                    .post, mint, auth: TwoFactor.kioskBasic, json: TwoFactor.mintBody))
            try await TwoFactor.solve(
                try #require(ids["email"]), at: TwoFactor.email, sender: sender, client: client,
                harness: h)
            let sms = try #require(ids["sms"])
            #expect(
                try await client.call(.post, "/instances/kiosk/challenge/\(sms)", json: "{}").status
                    == .ok)
            h.remember(try sender.lastCode(to: TwoFactor.phone))
            _ = try await client.call(
                .post, "/instances/kiosk/challenge/\(sms)/confirm", json: #"{"tan":"x"}"#)
            _ = try await client.call(
                .post, mint, auth: TwoFactor.kioskBasic, json: TwoFactor.mintBody,
                challengeIDs: [ids["email"]!])
            h.clock.advance(by: 2 * 60 * Self.minute)
            _ = try await client.call(
                .post, mint, auth: TwoFactor.kioskBasic, json: #"{"scope":"readonly"}"#)
        }
        let replayed = try await ReplayedState.load(h.log.reopen())
        #expect(StateDigest.hex(of: replayed.state) == h.engine.digest())
        let live = try #require(h.engine.instance(TwoFactor.kiosk))
        let again = try #require(replayed.state[TwoFactor.kiosk])
        #expect(live.challenges == again.challenges)
        #expect(live.challenges.count == 4)
        #expect(
            live.challenges.values.filter { if case .expired = $0.status { true } else { false } }
                .count == 1)
        #expect(
            live.challenges.values.filter { if case .consumed = $0.status { true } else { false } }
                .count == 1)
        try TwoFactor.expectNoSecretInEvents(h)
    }
}
