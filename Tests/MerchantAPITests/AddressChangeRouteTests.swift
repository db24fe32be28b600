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

/// Spec §10.1 over HTTP with a real helper program: the password (or any token) alone never
/// moves, removes or adds the address the second factor goes to.
///
/// Regression for the probe's critical finding: `PATCH /private` with the password moved the
/// e-mail to the attacker's address (204), after which the attacker minted `all:refreshable`
/// through a challenge sent to that address; `{"email": ""}` switched 2FA off.
@Suite("Address changes over HTTP")
struct AddressChangeRouteTests {
    static let owner = TwoFactor.email
    static let attacker = "attacker@example.net"
    static let details = "/instances/kiosk/private"

    /// A harness whose helper is a real script, with `kiosk` created by the operator (its
    /// e-mail and phone vouched for).
    static func harness(
        _ directory: TemporaryDirectory, channels: Set<TANChannel> = [.email],
        configure: @escaping @Sendable (inout EngineConfiguration) -> Void = { _ in }
    ) async throws -> (APIHarness, HelperScript) {
        let helper = try HelperScript(in: directory, channels: channels)
        let h = try await APIHarness(configure: { c in
            c.twoFactor.sender = helper.programs
            configure(&c)
        })
        try await h.engine.createInstance(
            .init(
                id: TwoFactor.kiosk, name: "Kiosk", auth: .password(TwoFactor.kioskPassword),
                email: owner))
        h.remember(TwoFactor.kioskPassword)
        return (h, helper)
    }

    /// The challenges of a `202`: (id, channel, masked address).
    static func challenges(_ response: TestResponse) throws -> [(String, String, String)] {
        #expect(response.status == .accepted)
        return try #require(response.json["challenges"]?.arrayValue).map { entry in
            (
                entry["challenge_id"]?.stringValue ?? "", entry["tan_channel"]?.stringValue ?? "",
                entry["tan_info"]?.stringValue ?? ""
            )
        }
    }

    @Test func noCredentialFormMovesTheAddressAlone() async throws {
        let directory = try TemporaryDirectory(prefix: "address")
        defer { directory.remove() }
        let (h, helper) = try await Self.harness(directory)
        try await h.test { client in
            // Tokens of every kind, minted through the owner's e-mail challenge.
            let id = try await TwoFactor.emailChallengeForMint(client: client)
            try await TwoFactor.solve(
                id, at: Self.owner, sender: helper, client: client, harness: h)
            let minted = try await client.call(
                .post, "/instances/kiosk/private/token", auth: TwoFactor.kioskBasic,
                json: #"{"scope":"all:refreshable"}"#, challengeIDs: [id])
            let refreshable = try #require(minted.json["access_token"]?.stringValue)
            h.remember(refreshable)
            let all = try await client.mint(
                "/instances/kiosk", auth: bearer(refreshable), body: #"{"scope":"all"}"#,
                harness: h)
            let credentials = [
                bearer(TwoFactor.kioskPassword), "secret-token:\(TwoFactor.kioskPassword)",
                bearer(refreshable), bearer(all),
            ]
            for credential in credentials {
                for body in [
                    #"{"email":"\#(Self.attacker)"}"#, #"{"email":""}"#,
                    #"{"email":"\#(Self.attacker)","name":"Kiosk"}"#,
                ] {
                    let patched = try await client.call(
                        .patch, Self.details, auth: credential, json: body)
                    let asked = try Self.challenges(patched)
                    #expect(asked.count == 1)
                    #expect(asked.first?.1 == "email")
                    #expect(asked.first?.2 == "o***@example.com")
                }
            }
            // Basic is for minting only.
            let basicPatch = try await client.call(
                .patch, Self.details, auth: TwoFactor.kioskBasic,
                json: #"{"email":"\#(Self.attacker)"}"#)
            #expect(basicPatch.status == .unauthorized)
            // Nothing changed, nothing reached the attacker.
            let now = try await client.call(.get, Self.details, auth: bearer(all))
            #expect(now.json["email"]?.stringValue == Self.owner)
            #expect(now.json["email_validated"]?.boolValue == true)
            #expect(!(try helper.addresses()).contains(Self.attacker))
            // The attacker's next login still challenges the owner.
            let login = try await client.call(
                .post, "/instances/kiosk/private/token", auth: TwoFactor.kioskBasic,
                json: #"{"scope":"all:refreshable","duration":{"d_us":"forever"}}"#)
            #expect(try Self.challenges(login).first?.2 == "o***@example.com")
        }
    }

    @Test func movingTheAddressTakesTheOldAndTheNewAddressesChallenges() async throws {
        let directory = try TemporaryDirectory(prefix: "address")
        defer { directory.remove() }
        let (h, helper) = try await Self.harness(directory)
        let new = "new-owner@example.org"
        let body = #"{"email":"\#(new)"}"#
        let owner = bearer(TwoFactor.kioskPassword)
        try await h.test { client in
            let first = try Self.challenges(
                try await client.call(.patch, Self.details, auth: owner, json: body))
            #expect(first.map(\.2) == ["o***@example.com"])
            // Repeating before solving, or with another body: nothing changes.
            let early = try await client.call(
                .patch, Self.details, auth: owner, json: body, challengeIDs: [first[0].0])
            #expect(early.status == .forbidden)
            #expect(early.code == 2031)
            try await TwoFactor.solve(
                first[0].0, at: Self.owner, sender: helper, client: client, harness: h)
            let otherBody = try await client.call(
                .patch, Self.details, auth: owner, json: #"{"email":"x@example.org"}"#,
                challengeIDs: [first[0].0])
            #expect(otherBody.code == 2031)
            // Step 2: the new address gets a challenge of its own.
            let second = try Self.challenges(
                try await client.call(
                    .patch, Self.details, auth: owner, json: body, challengeIDs: [first[0].0]))
            #expect(second.map(\.1) == ["email"])
            #expect(second.map(\.2) == ["n***@example.org"])
            #expect(second[0].0 != first[0].0)
            let between = try await client.call(.get, Self.details, auth: owner)
            #expect(between.json["email"]?.stringValue == Self.owner)
            // Until then, logins are still challenged at the old address.
            let login = try Self.challenges(
                try await client.call(
                    .post, "/instances/kiosk/private/token", auth: TwoFactor.kioskBasic,
                    json: TwoFactor.mintBody))
            #expect(login.map(\.2) == ["o***@example.com"])
            try await TwoFactor.solve(
                second[0].0, at: new, sender: helper, client: client, harness: h)
            let done = try await client.call(
                .patch, Self.details, auth: owner, json: body, challengeIDs: [second[0].0])
            #expect(done.status == .noContent)
            let after = try await client.call(.get, Self.details, auth: owner)
            #expect(after.json["email"]?.stringValue == new)
            #expect(after.json["email_validated"]?.boolValue == true)
            #expect(try helper.addresses() == [Self.owner, new])
            let next = try Self.challenges(
                try await client.call(
                    .post, "/instances/kiosk/private/token", auth: TwoFactor.kioskBasic,
                    json: TwoFactor.mintBody))
            #expect(next.map(\.2) == ["n***@example.org"])
        }
        let types = try TwoFactor.eventTypes(h.log).suffix(6)
        #expect(
            Array(types) == [
                "challenge-code-transmitted.v1", "challenge-solved.v1", "challenge-consumed.v1",
                "instance-details-updated.v1", "instance-address-validated.v1",
                "challenge-created.v1",
            ])
        try await Self.expectReplayMatches(h)
        try TwoFactor.expectNoSecretInEvents(h)
    }

    @Test func removingTheAddressIsChallengedAndExternalStaysRefused() async throws {
        let directory = try TemporaryDirectory(prefix: "address")
        defer { directory.remove() }
        let (h, helper) = try await Self.harness(directory)
        let owner = bearer(TwoFactor.kioskPassword)
        try await h.test { client in
            let body = #"{"email":""}"#
            let asked = try Self.challenges(
                try await client.call(.patch, Self.details, auth: owner, json: body))
            try await TwoFactor.solve(
                asked[0].0, at: Self.owner, sender: helper, client: client, harness: h)
            let removed = try await client.call(
                .patch, Self.details, auth: owner, json: body, challengeIDs: [asked[0].0])
            #expect(removed.status == .noContent)
            let after = try await client.call(.get, Self.details, auth: owner)
            #expect(after.json["email"] == nil)
            // With 2FA off for this instance, {"method":"external"} is still refused.
            let external = try await client.call(
                .post, "/instances/kiosk/private/auth", auth: owner,
                json: #"{"method":"external"}"#)
            #expect(external.status == .badRequest)
            #expect(external.code == 2602)
        }
        try await Self.expectReplayMatches(h)
    }

    @Test func anInstanceWithoutAnAddressAddsOneOnlyThroughItsChallenge() async throws {
        let directory = try TemporaryDirectory(prefix: "address")
        defer { directory.remove() }
        let (h, helper) = try await Self.harness(directory)
        try await h.test { client in
            let owner = bearer(APIHarness.shopPassword)
            let body = #"{"email":"\#(Self.attacker)"}"#
            let asked = try Self.challenges(
                try await client.call(.patch, "/instances/shop/private", auth: owner, json: body))
            #expect(asked.map(\.2) == ["a***@example.net"])
            let before = try await client.call(.get, "/instances/shop/private", auth: owner)
            #expect(before.json["email"] == nil)
            try await TwoFactor.solve(
                asked[0].0, at: Self.attacker, sender: helper, client: client, harness: h,
                instance: "shop")
            let added = try await client.call(
                .patch, "/instances/shop/private", auth: owner, json: body,
                challengeIDs: [asked[0].0])
            #expect(added.status == .noContent)
            let after = try await client.call(.get, "/instances/shop/private", auth: owner)
            #expect(after.json["email"]?.stringValue == Self.attacker)
            #expect(after.json["email_validated"]?.boolValue == true)
        }
        try await Self.expectReplayMatches(h)
    }

    @Test func withoutAHelperAddressesChangeAtOnceUnvalidated() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let owner = bearer(APIHarness.shopPassword)
            let patched = try await client.call(
                .patch, "/instances/shop/private", auth: owner,
                json: #"{"email":"shop@example.com","phone_number":"+41 79 000 00 00"}"#)
            #expect(patched.status == .noContent)
            let after = try await client.call(.get, "/instances/shop/private", auth: owner)
            #expect(after.json["email_validated"]?.boolValue == false)
            #expect(after.json["phone_number"]?.stringValue == "+41790000000")
        }
    }

    @Test func unusableAddressesAreRefusedWith2132() async throws {
        let h = try await APIHarness()
        try await h.test { client in
            let owner = bearer(APIHarness.shopPassword)
            for (field, value) in [
                ("email", "--exec=/bin/sh"), ("email", "a@b.c\\nBcc: x@y.z"),
                ("email", "-oProxyCommand=x@example.com"), ("phone_number", "-1234567"),
                ("phone_number", "+41 79 000 00 00; rm -rf /"),
                ("email", String(repeating: "a", count: 250) + "@b.ch"),
            ] {
                let patched = try await client.call(
                    .patch, "/instances/shop/private", auth: owner,
                    json: #"{"\#(field)":"\#(value)"}"#)
                #expect(patched.status == .badRequest, "\(value)")
                #expect(patched.code == 2132)
                #expect(patched.json["parameter"]?.stringValue == field)
            }
            let created = try await client.call(
                .post, "/management/instances", auth: bearer(APIHarness.adminPassword),
                json: #"{"id":"x1","name":"X","auth":{"method":"external"},"email":"-x@y.z"}"#)
            #expect(created.status == .badRequest)
        }
    }

    /// The events of the whole flow fold, offline, into the state the server has.
    static func expectReplayMatches(_ h: APIHarness) async throws {
        let replayed = try await ReplayedState.load(h.log)
        #expect(h.engine.digest() == StateDigest.hex(of: replayed.state))
    }
}
