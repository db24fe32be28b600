import EventLog
import EventLogTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing
import TextCoding
import TokenDomain

@testable import MerchantAPI
@testable import TokenEngine

/// Instances on both sides (spec §9): the API in process, its engine kept in step with the
/// stand-in merchant (``MerchantModel``) over real HTTP on a loopback port.
@Suite("Instances kept in step with a merchant")
struct UpstreamRouteTests {
    static let merchantAdminPassword = "merchant admin password"
    static let passwordKey = [UInt8](repeating: 7, count: 32)

    /// A full creation body of `id` with the business fields the merchant requires.
    static func creation(_ id: String, password: String = "client pw of the shop") -> String {
        #"{"id":"\#(id)","name":"Shop \#(id)","auth":{"method":"token","password":"\#(password)"},"email":"owner@example.com","address":{"country":"CH"},"jurisdiction":{},"use_stefan":true,"default_wire_transfer_delay":{"d_us":3600000000},"default_pay_delay":{"d_us":60000000}}"#
    }

    /// A harness whose engine reaches the stand-in at `port`, connected as `admin` (its
    /// backend credential minted from the merchant), and a Tallystick admin token.
    static func connected(port: Int) async throws -> (APIHarness, String) {
        let harness = try await APIHarness(
            configure: {
                $0.merchant = MerchantBackend(
                    transport: MerchantHTTPClient(
                        address: .http(host: "127.0.0.1", port: port, prefix: "")),
                    passwordKey: passwordKey)
            }, shop: false)
        harness.remember(merchantAdminPassword)
        try await harness.engine.connectMerchant(adminPassword: merchantAdminPassword)
        let token = Mutex("")
        try await harness.test { client in
            let minted = try await client.mint(
                auth: basic("admin", APIHarness.adminPassword), harness: harness)
            token.withLock { $0 = minted }
        }
        return (harness, token.withLock { $0 })
    }

    /// The events of `id`'s stream, decoded.
    static func events(_ harness: APIHarness, _ id: String) throws -> [DomainEvent] {
        try harness.log.readStream(id, from: 1).map { record in
            try record.payload.withUnsafeBytes {
                try EventCodec.decode(tag: record.type, payload: $0)
            }
        }
    }

    @Test func anInstanceIsCreatedChangedAndDeletedOnBothSides() async throws {
        let model = MerchantModel(adminPassword: Self.merchantAdminPassword)
        try await StandInMerchant(model: model).run { port in
            let (harness, admin) = try await Self.connected(port: port)
            let shop = InstanceID("shop1")!
            try await harness.test { client in
                let created = try await client.call(
                    .post, "/management/instances", auth: bearer(admin),
                    json: Self.creation("shop1"))
                #expect(created.status == .noContent)
                // The merchant has it, with a password the client never sent.
                let inMerchant = try #require(model.instance("shop1"))
                #expect(inMerchant.password != "client pw of the shop")
                #expect(inMerchant.password.count == 64)
                #expect(JSONValue.object(inMerchant.fields)["name"] == .string("Shop shop1"))
                #expect(JSONValue.object(inMerchant.fields)["use_stefan"] == .bool(true))
                // Tallystick holds a backend token the merchant accepts for that instance.
                let credential = try #require(harness.engine.backendCredential(for: shop))
                harness.remember(credential)
                harness.remember(inMerchant.password)
                #expect(model.accepts(credential, for: "shop1"))
                // Staff log in at Tallystick with the password they chose.
                _ = try await client.mint(
                    "/instances/shop1", auth: basic("shop1", "client pw of the shop"),
                    harness: harness)

                let patched = try await client.call(
                    .patch, "/management/instances/shop1", auth: bearer(admin),
                    json:
                        #"{"name":"Renamed","address":{"country":"DE"},"jurisdiction":{},"use_stefan":false,"default_wire_transfer_delay":{"d_us":1},"default_pay_delay":{"d_us":1}}"#
                )
                #expect(patched.status == .noContent)
                let changed = try #require(model.instance("shop1"))
                #expect(JSONValue.object(changed.fields)["name"] == .string("Renamed"))
                #expect(JSONValue.object(changed.fields)["address"]?["country"] == .string("DE"))

                // The instance's own PATCH reaches the merchant too.
                let own = try await client.mint(
                    "/instances/shop1", auth: basic("shop1", "client pw of the shop"),
                    harness: harness)
                let ownPatch = try await client.call(
                    .patch, "/instances/shop1/private", auth: bearer(own),
                    json: #"{"name":"Own name","address":{"country":"AT"},"jurisdiction":{}}"#)
                #expect(ownPatch.status == .noContent)
                #expect(
                    JSONValue.object(model.instance("shop1")!.fields)["name"] == .string("Own name")
                )

                let deleted = try await client.call(
                    .delete, "/instances/shop1/private", auth: bearer(own))
                #expect(deleted.status == .noContent)
                #expect(model.instance("shop1")?.deleted == true)
                let purged = try await client.call(
                    .delete, "/management/instances/shop1?purge=yes", auth: bearer(admin))
                #expect(purged.status == .noContent)
                #expect(model.instance("shop1") == nil)
                #expect(harness.engine.instance(shop) == nil)
            }
            let actions = try Self.events(harness, "shop1").compactMap { event in
                if case .merchantInstanceChanged(let changed) = event {
                    return "\(changed.action.name) \(changed.status)"
                }
                return nil
            }
            #expect(
                actions == [
                    "created 204", "updated 204", "updated 204", "deleted 204", "purged 204",
                ])
            // The purged instance's credential left the file with it.
            #expect(harness.engine.configuration.backendCredentials.kept(for: shop) == nil)
        }
    }

    @Test func theMerchantsRefusalReachesTheClientAndNothingIsRecorded() async throws {
        let model = MerchantModel(adminPassword: Self.merchantAdminPassword)
        try await StandInMerchant(model: model).run { port in
            let (harness, admin) = try await Self.connected(port: port)
            let before = try harness.log.head().sequence
            try await harness.test { client in
                // The merchant's own refusal: its status and Taler code, as they came.
                let missing = try await client.call(
                    .post, "/management/instances", auth: bearer(admin),
                    json:
                        #"{"id":"bare","name":"Bare","auth":{"method":"token","password":"pw pw"}}"#
                )
                #expect(missing.status == .badRequest)
                #expect(missing.code == 25)
                #expect(missing.json["hint"]?.stringValue?.contains("merchant") == true)

                model.refuse("POST", "/management/instances", status: 503, code: 9999)
                let refused = try await client.call(
                    .post, "/management/instances", auth: bearer(admin),
                    json: Self.creation("shop2"))
                #expect(refused.status == .serviceUnavailable)
                #expect(refused.code == 9999)
            }
            #expect(harness.engine.instance(InstanceID("bare")!) == nil)
            #expect(harness.engine.instance(InstanceID("shop2")!) == nil)
            #expect(try harness.log.head().sequence == before)
            #expect(model.instance("shop2") == nil)
        }
    }

    @Test func aMerchantInstanceTallystickDidNotMakeIsNotTakenOver() async throws {
        let model = MerchantModel(adminPassword: Self.merchantAdminPassword)
        try await StandInMerchant(model: model).run { port in
            let (harness, admin) = try await Self.connected(port: port)
            try await harness.test { client in
                // Someone else's instance of the same id: its password is not Tallystick's.
                let merchantAdmin = try #require(harness.engine.backendCredential(for: .admin))
                _ = model.answer(
                    method: "POST", path: "/management/instances",
                    headers: [.authorization: "Bearer secret-token:\(merchantAdmin)"],
                    body: Self.creation("theirs", password: "their own password"))
                let conflict = try await client.call(
                    .post, "/management/instances", auth: bearer(admin),
                    json: Self.creation("theirs"))
                #expect(conflict.status == .conflict)
                #expect(conflict.code == 2600)
                #expect(
                    conflict.json["hint"]?.stringValue?.contains("tallystick upstream adopt")
                        == true)
            }
            #expect(harness.engine.instance(InstanceID("theirs")!) == nil)
            #expect(model.instance("theirs")?.password == "their own password")
        }
    }

    @Test func deletionAndChangeRefusedByTheMerchantChangeNothing() async throws {
        let model = MerchantModel(adminPassword: Self.merchantAdminPassword)
        try await StandInMerchant(model: model).run { port in
            let (harness, admin) = try await Self.connected(port: port)
            let shop = InstanceID("shop3")!
            try await harness.test { client in
                let created = try await client.call(
                    .post, "/management/instances", auth: bearer(admin),
                    json: Self.creation("shop3"))
                #expect(created.status == .noContent)
                model.refuse("DELETE", "/management/instances/shop3", status: 500, code: 51)
                let deleted = try await client.call(
                    .delete, "/management/instances/shop3", auth: bearer(admin))
                #expect(deleted.status == .internalServerError)
                #expect(deleted.code == 51)
                #expect(harness.engine.instance(shop)?.isActive == true)
                #expect(model.instance("shop3")?.deleted == false)

                model.refuse("PATCH", "/management/instances/shop3", status: 409, code: 2700)
                let patched = try await client.call(
                    .patch, "/management/instances/shop3", auth: bearer(admin),
                    json: #"{"name":"Never","address":{},"jurisdiction":{}}"#)
                #expect(patched.status == .conflict)
                #expect(patched.code == 2700)
                #expect(harness.engine.instance(shop)?.name == "Shop shop3")

                // The same creation again changes nothing and asks the merchant nothing.
                let requests = model.instanceIDs
                let again = try await client.call(
                    .post, "/management/instances", auth: bearer(admin),
                    json: Self.creation("shop3"))
                #expect(again.status == .noContent)
                #expect(model.instanceIDs == requests)
            }
        }
    }

    @Test func anUnreachableMerchantIsAGatewayErrorAndNothingIsRecorded() async throws {
        let model = MerchantModel(adminPassword: Self.merchantAdminPassword)
        let (harness, admin) = try await StandInMerchant(model: model).run { port in
            try await Self.connected(port: port)
        }
        // The stand-in is gone: its port refuses connections.
        let before = try harness.log.head().sequence
        try await harness.test { client in
            let created = try await client.call(
                .post, "/management/instances", auth: bearer(admin), json: Self.creation("shop4"))
            #expect(created.status == .badGateway)
            #expect(created.code == 15)
            #expect(created.json["hint"]?.stringValue?.contains("did not answer") == true)
        }
        #expect(try harness.log.head().sequence == before)
        #expect(harness.engine.instance(InstanceID("shop4")!) == nil)
    }

    @Test func configIsTheMerchantsWithTallysticksAuthFieldsAndCached() async throws {
        let model = MerchantModel(adminPassword: Self.merchantAdminPassword)
        try await StandInMerchant(model: model).run { port in
            let (harness, _) = try await Self.connected(port: port)
            try await harness.test { client in
                for _ in 0..<3 {
                    let config = try await client.call(.get, "/config")
                    #expect(config.status == .ok)
                    #expect(config.json["currency"] == .string("CHF"))
                    #expect(config.json["version"] == .string("20:0:8"))
                    #expect(config.json["exchanges"]?.arrayValue?.count == 1)
                    // Tallystick runs the challenges: its channels, not the merchant's.
                    #expect(config.json["mandatory_tan_channels"] == .array([]))
                }
            }
            #expect(model.configRequests == 1)
        }
    }

    @Test func configIsTallysticksOwnWhileTheMerchantIsDown() async throws {
        let harness = try await APIHarness(
            configure: {
                $0.merchant = MerchantBackend(
                    transport: MerchantHTTPClient(
                        address: .http(
                            host: "127.0.0.1", port: try! NginxServer.freePort(), prefix: "")),
                    passwordKey: Self.passwordKey)
            }, shop: false)
        try await harness.test { client in
            let config = try await client.call(.get, "/config")
            #expect(config.status == .ok)
            #expect(config.json["currency"] == .string("KUDOS"))
            #expect(config.json["implementation"]?.stringValue?.contains("tallystick") == true)
        }
    }

    @Test func anAdoptedInstanceKeepsItsStaffPasswordAndOnlyTallystickReachesTheMerchant()
        async throws
    {
        let model = MerchantModel(adminPassword: Self.merchantAdminPassword)
        try await StandInMerchant(model: model).run { port in
            let (harness, _) = try await Self.connected(port: port)
            let merchantAdmin = try #require(harness.engine.backendCredential(for: .admin))
            _ = model.answer(
                method: "POST", path: "/management/instances",
                headers: [.authorization: "Bearer secret-token:\(merchantAdmin)"],
                body: Self.creation("legacy", password: "staff password"))
            harness.remember("staff password")
            let legacy = InstanceID("legacy")!
            let adoption = try await harness.engine.adoptMerchantInstance(
                legacy, password: "staff password", rotatePassword: true)
            #expect(adoption.created && adoption.rotated)
            let state = try #require(harness.engine.instance(legacy))
            #expect(state.name == "Shop legacy")
            #expect(state.email == "owner@example.com")
            let details = try JSONValue.parse(state.details)
            #expect(details["use_stefan"] == .bool(true))
            #expect(details["merchant_pub"] == nil)
            // The merchant's password is Tallystick's now; its backend token works.
            let rotated = try #require(model.instance("legacy")?.password)
            #expect(rotated != "staff password")
            let credential = try #require(harness.engine.backendCredential(for: legacy))
            #expect(model.accepts(credential, for: "legacy"))
            // Staff still log in at Tallystick with the password they know.
            try await harness.test { client in
                _ = try await client.mint(
                    "/instances/legacy", auth: basic("legacy", "staff password"),
                    harness: harness)
            }
            // Run again: nothing to create; the rotation is done again, harmlessly.
            let again = try await harness.engine.adoptMerchantInstance(
                legacy, password: "staff password", rotatePassword: false)
            #expect(!again.created && !again.rotated)
            let actions = try Self.events(harness, "legacy").compactMap { event in
                if case .merchantInstanceChanged(let changed) = event { return changed.action }
                return nil
            }
            #expect(actions == [.adopted, .passwordRotated])
        }
    }

    @Test func adoptionRefusesAWrongPassword() async throws {
        let model = MerchantModel(adminPassword: Self.merchantAdminPassword)
        try await StandInMerchant(model: model).run { port in
            let (harness, _) = try await Self.connected(port: port)
            await #expect(throws: EngineError.self) {
                try await harness.engine.adoptMerchantInstance(
                    InstanceID("nobody")!, password: "guess",
                    rotatePassword: false)
            }
            #expect(harness.engine.instance(InstanceID("nobody")!) == nil)
        }
    }

    @Test func aMerchantAskingForItsOwnSecondFactorIsReportedNotTakenForSuccess() async throws {
        let model = MerchantModel(adminPassword: Self.merchantAdminPassword)
        try await StandInMerchant(model: model).run { port in
            let harness = try await APIHarness(
                configure: {
                    $0.merchant = MerchantBackend(
                        transport: MerchantHTTPClient(
                            address: .http(host: "127.0.0.1", port: port, prefix: "")),
                        passwordKey: Self.passwordKey)
                }, shop: false)
            model.refuse("POST", "/instances/admin/private/token", status: 202, code: 0)
            do throws(EngineError) {
                try await harness.engine.connectMerchant(adminPassword: Self.merchantAdminPassword)
                Issue.record("a 202 was taken for success")
            } catch {
                #expect(error.hint.contains("second factor (202)"))
            }
            #expect(harness.engine.backendCredential(for: .admin) == nil)
            #expect(harness.engine.instance(.admin)?.backendCredential == nil)
        }
    }

    @Test func theMerchantIsReachedOverAUnixSocketToo() async throws {
        let directory = try TemporaryDirectory(prefix: "upstream-socket")
        defer { directory.remove() }
        let socket = directory.appending("merchant.sock")
        let model = MerchantModel(adminPassword: Self.merchantAdminPassword)
        try await StandInMerchant(model: model).run(at: .unixDomainSocket(path: socket)) { _ in
            let address = try UpstreamAddress(parsing: "unix:\(socket)")
            let harness = try await APIHarness(
                configure: {
                    $0.merchant = MerchantBackend(
                        transport: MerchantHTTPClient(address: address),
                        passwordKey: Self.passwordKey)
                }, shop: false)
            try await harness.engine.connectMerchant(adminPassword: Self.merchantAdminPassword)
            let credential = try #require(harness.engine.backendCredential(for: .admin))
            #expect(model.accepts(credential, for: "admin"))
        }
    }

    @Test(arguments: [
        ("http://127.0.0.1:9976", "http://127.0.0.1:9976"),
        ("http://localhost:9976/", "http://127.0.0.1:9976"),
        ("http://[::1]:9976/merchant/", "http://[::1]:9976/merchant"),
        ("unix:/run/taler-merchant/httpd.sock", "unix:/run/taler-merchant/httpd.sock"),
    ])
    func upstreamAddressesOnLoopbackOrASocketAreAccepted(_ text: String, _ shown: String) throws {
        #expect(try UpstreamAddress(parsing: text).description == shown)
    }

    @Test(arguments: [
        "https://127.0.0.1:9976", "http://10.0.0.1:9976", "http://merchant.example:9976",
        "http://user:pw@127.0.0.1:9976", "unix:relative.sock", "127.0.0.1:9976",
    ])
    func otherUpstreamAddressesAreRefused(_ text: String) {
        #expect(throws: UpstreamAddress.Invalid.self) { try UpstreamAddress(parsing: text) }
    }
}
