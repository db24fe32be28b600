import Testing

@testable import TokenDomain

@Suite("Instance commands: create, change credentials, update, delete, purge")
struct InstanceCommandTests {
    typealias F = Fixture

    static func create(
        name: String = "Shop One", auth: InstanceAuth = .password(F.password),
        email: String? = nil, phone: String? = nil, details: [UInt8] = Array(#"{"a":1}"#.utf8),
        verified: UInt64? = nil, id: InstanceID = F.shop, vouched: Bool = false
    ) -> DomainCommand {
        .createInstance(
            CreateInstance(
                id: id, name: name, auth: auth, email: email, phoneNumber: phone,
                details: details, passwordVerifiedAgainstGeneration: verified,
                addressesVouched: vouched))
    }

    static let deleted = DomainEvent.instanceDeleted(InstanceDeleted(at: F.t0 + 1))
    static let purged = DomainEvent.instancePurged(InstancePurged(at: F.t0 + 2))
    static let changed = DomainEvent.instanceCredentialsChanged(
        InstanceCredentialsChanged(at: F.t0 + 1, auth: .password(F.otherPassword), generation: 2))

    // Rows: (name, given, command, then)
    static let createTable:
        [(String, [DomainEvent], DomainCommand, Result<[DomainEvent], Rejection>)] = [
            ("new instance", [], create(), .success([F.created()])),
            (
                "external auth, not allowed (spec §10.2)", [], create(auth: .external),
                .failure(.externalAuthNotAllowed(onCreation: true))
            ),
            (
                "unusable e-mail", [], create(email: "-oProxyCommand=x@example.com"),
                .failure(.addressUnusable(.email))
            ),
            ("unusable phone", [], create(phone: "+41 79\n"), .failure(.addressUnusable(.sms))),
            (
                "phone stored in E.164", [], create(phone: "+41 (79) 000-00-00"),
                .success([F.created(phone: "+41790000000")])
            ),
            ("empty addresses are none", [], create(email: "", phone: ""), .success([F.created()])),
            (
                "addresses the operator vouches for are validated (spec §10.1)", [],
                create(email: "shop@example.com", phone: "0041 79 000 00 00", vouched: true),
                .success([
                    F.created(email: "shop@example.com", phone: "+41790000000"),
                    .instanceAddressValidated(
                        InstanceAddressValidated(
                            at: F.t0, channel: .sms, address: "+41790000000", challenge: nil)),
                    .instanceAddressValidated(
                        InstanceAddressValidated(
                            at: F.t0, channel: .email, address: "shop@example.com",
                            challenge: nil)),
                ])
            ),
            (
                "the same phone in another form is the same data",
                [F.created(phone: "+41790000000")],
                create(phone: "+41 79 000 00 00", verified: 1), .success([])
            ),
            (
                "same data again, password verified", [F.created()], create(verified: 1),
                .success([])
            ),
            (
                "same data, external again", [F.created(auth: .external)], create(auth: .external),
                .success([])
            ),
            (
                "same data, password not verified", [F.created()], create(),
                .failure(.instanceAlreadyExists)
            ),
            (
                "password verified against an old generation", [F.created(), changed],
                create(verified: 1),
                .failure(.instanceAlreadyExists)
            ),
            (
                "password verified against the current generation", [F.created(), changed],
                create(verified: 2),
                .success([])
            ),
            (
                "other name", [F.created()], create(name: "Shop Two", verified: 1),
                .failure(.instanceAlreadyExists)
            ),
            (
                "other e-mail", [F.created()], create(email: "a@b.c", verified: 1),
                .failure(.instanceAlreadyExists)
            ),
            (
                "other details", [F.created()], create(details: [], verified: 1),
                .failure(.instanceAlreadyExists)
            ),
            (
                "external vs password", [F.created()], create(auth: .external),
                .failure(.instanceAlreadyExists)
            ),
            (
                "deleted, not purged", [F.created(), deleted], create(verified: 1),
                .failure(.purgeRequired)
            ),
            ("purged", [F.created(), deleted, purged], create(), .success([F.created()])),
            (
                "id differs from the stream", [], create(id: F.other),
                .failure(.malformedParameter("id"))
            ),
            (
                "malformed password hash", [],
                create(
                    auth: .password(
                        PasswordHash(algorithm: "", log2N: 0, r: 0, p: 0, salt: [], derived: []))),
                .failure(.badInstanceAuth)
            ),
        ]

    @Test("CreateInstance", arguments: createTable)
    func createInstance(
        _ name: String, given: [DomainEvent], command: DomainCommand,
        then: Result<[DomainEvent], Rejection>
    ) throws {
        #expect(try decide(given: given, when: command) == then, "\(name)")
    }

    @Test func externalAuthWhenTheOperatorAllowsIt() throws {
        #expect(
            try decide(given: [], when: Self.create(auth: .external), allowExternalAuth: true)
                == .success([F.created(auth: .external)]))
        let change = DomainCommand.changeCredentials(ChangeCredentials(auth: .external))
        #expect(
            try decide(given: [F.created()], when: change)
                == .failure(.externalAuthNotAllowed(onCreation: false)))
        #expect(
            try decide(given: [F.created()], when: change, allowExternalAuth: true).events.count
                == 1)
        #expect(Rejection.externalAuthNotAllowed(onCreation: false).errorCode.code == 2602)
        #expect(Rejection.externalAuthNotAllowed(onCreation: true).errorCode.code == 2601)
        #expect(Rejection.externalAuthNotAllowed(onCreation: false).errorCode.httpStatus == 400)
    }

    @Test func vouchedAddressesFoldValidated() throws {
        let events = try decide(
            given: [],
            when: Self.create(email: "shop@example.com", phone: "+41790000000", vouched: true)
        ).get()
        let state = try #require(try fold(events))
        #expect(state.emailValidated && state.phoneValidated)
        // The fold refuses a validation of an address the instance does not have.
        var other: InstanceState? = state
        #expect(throws: FoldError.self) {
            try Decider.evolve(
                &other, instance: F.shop,
                with: .instanceAddressValidated(
                    InstanceAddressValidated(
                        at: F.t0, channel: .email, address: "else@example.com", challenge: nil)))
        }
    }

    @Test func createRejectionCodes() {
        #expect(Rejection.instanceAlreadyExists.errorCode.code == 2600)
        #expect(Rejection.instanceAlreadyExists.errorCode.httpStatus == 409)
        #expect(Rejection.purgeRequired.errorCode.code == 2603)
        #expect(Rejection.badInstanceAuth.errorCode.code == 2601)
        #expect(Rejection.badCredentialsChange.errorCode.code == 2602)
    }

    @Test func aPurgedIdStartsAgainAtSerialOne() throws {
        let given = [F.created(), F.issued(1, F.scope("all")), Self.purged]
        let state = try #require(try fold(given + [F.created(at: F.t0 + 3)]))
        #expect(state.nextSerial == TokenSerial.first)
        #expect(state.token(hash: F.hash(1)) == nil)
    }

    // MARK: ChangeCredentials

    @Test func changingCredentialsBumpsTheGeneration() throws {
        let command = DomainCommand.changeCredentials(
            ChangeCredentials(auth: .password(F.otherPassword)))
        let result = try decide(given: [F.created()], when: command, now: F.t0 + 1)
        #expect(result == .success([Self.changed]))
        let state = try #require(try fold([F.created(), Self.changed]))
        #expect(state.credentialGeneration == 2)
        #expect(state.auth == .password(F.otherPassword))
        // Re-running on the new state changes again.
        let again = try decide(given: [F.created(), Self.changed], when: command, now: F.t0 + 2)
        #expect(again.events.count == 1)
        if case .instanceCredentialsChanged(let event) = again.events.first {
            #expect(event.generation == 3)
        }
    }

    @Test func changingCredentialsKeepsLoginTokens() throws {
        let state = try #require(
            try fold([F.created(), F.issued(1, F.scope("all")), Self.changed]))
        #expect(
            try state.permissions(of: .token(F.hash(1)), at: F.t0 + 2)
                == Scope.all.permissions(refreshable: false))
    }

    static let changeTable: [(String, [DomainEvent], InstanceAuth, Rejection)] = [
        ("unknown instance", [], .external, .instanceUnknown),
        ("deleted instance", [F.created(), deleted], .external, .instanceDeleted),
        (
            "malformed hash", [F.created()],
            .password(
                PasswordHash(algorithm: "scrypt", log2N: 15, r: 8, p: 1, salt: [], derived: [1])),
            .badCredentialsChange
        ),
    ]

    @Test("ChangeCredentials rejections", arguments: changeTable)
    func changeRejections(
        _ name: String, given: [DomainEvent], auth: InstanceAuth, rejection: Rejection
    ) throws {
        let result = try decide(
            given: given, when: .changeCredentials(ChangeCredentials(auth: auth)))
        #expect(result == .failure(rejection), "\(name)")
    }

    // MARK: UpdateInstanceDetails

    @Test func updatingNothingIsNoEvent() throws {
        let same = UpdateInstanceDetails(
            name: .set("Shop One"), email: .keep, phoneNumber: .set(nil))
        #expect(
            try decide(given: [F.created()], when: .updateInstanceDetails(same)) == .success([]))
    }

    @Test func updatingWritesTheFullNewValues() throws {
        let update = UpdateInstanceDetails(
            email: .set("shop@example.com"), details: .set([0x7B, 0x7D]))
        let result = try decide(
            given: [F.created(phone: "+41")], when: .updateInstanceDetails(update), now: F.t0 + 5)
        let expected = DomainEvent.instanceDetailsUpdated(
            InstanceDetailsUpdated(
                at: F.t0 + 5, name: "Shop One", email: "shop@example.com", phoneNumber: "+41",
                details: [0x7B, 0x7D]))
        #expect(result == .success([expected]))
        let state = try #require(try fold([F.created(phone: "+41"), expected]))
        #expect(state.email == "shop@example.com" && state.phoneNumber == "+41")
        #expect(!state.emailValidated && !state.phoneValidated)
        #expect(state.details == [0x7B, 0x7D])
        // Re-running on the new state: nothing left to change.
        #expect(
            try decide(
                given: [F.created(phone: "+41"), expected], when: .updateInstanceDetails(update))
                == .success([]))
    }

    @Test func updatedAddressesAreCheckedAndNormalized() throws {
        let bad = UpdateInstanceDetails(email: .set("a b@example.com"))
        #expect(
            try decide(given: [F.created()], when: .updateInstanceDetails(bad))
                == .failure(.addressUnusable(.email)))
        #expect(Rejection.addressUnusable(.email).errorCode.code == 2132)
        #expect(Rejection.addressUnusable(.sms).parameter == "phone_number")
        let phone = UpdateInstanceDetails(phoneNumber: .set("+41 79 000 00 00"))
        let result = try decide(
            given: [F.created()], when: .updateInstanceDetails(phone), now: F.t0 + 5)
        #expect(
            result
                == .success([
                    .instanceDetailsUpdated(
                        InstanceDetailsUpdated(
                            at: F.t0 + 5, name: "Shop One", email: nil,
                            phoneNumber: "+41790000000", details: Array(#"{"a":1}"#.utf8)))
                ]))
        // An empty string removes the address.
        let removed = UpdateInstanceDetails(email: .set(""))
        let cleared = try decide(
            given: [F.created(email: "shop@example.com")], when: .updateInstanceDetails(removed))
        guard case .instanceDetailsUpdated(let event)? = cleared.events.first else {
            Issue.record("no update")
            return
        }
        #expect(event.email == nil)
    }

    @Test func updatingADeletedInstanceIsRefused() throws {
        let update = UpdateInstanceDetails(name: .set("New"))
        #expect(
            try decide(given: [F.created(), Self.deleted], when: .updateInstanceDetails(update))
                == .failure(.instanceDeleted))
    }

    // MARK: DeleteInstance

    static let deleteTable: [(String, [DomainEvent], Bool, Result<[DomainEvent], Rejection>)] = [
        (
            "delete", [F.created()], false,
            .success([.instanceDeleted(InstanceDeleted(at: F.t0 + 9))])
        ),
        (
            "purge an active instance", [F.created()], true,
            .success([.instancePurged(InstancePurged(at: F.t0 + 9))])
        ),
        (
            "purge a deleted instance", [F.created(), deleted], true,
            .success([.instancePurged(InstancePurged(at: F.t0 + 9))])
        ),
        ("delete a deleted instance", [F.created(), deleted], false, .failure(.instanceDeleted)),
        ("delete an unknown instance", [], false, .failure(.instanceUnknown)),
        ("purge an unknown instance", [], true, .failure(.instanceUnknown)),
        (
            "purge a purged instance", [F.created(), deleted, purged], true,
            .failure(.instanceUnknown)
        ),
    ]

    @Test("DeleteInstance", arguments: deleteTable)
    func deleteInstance(
        _ name: String, given: [DomainEvent], purge: Bool, then: Result<[DomainEvent], Rejection>
    ) throws {
        #expect(
            try decide(
                given: given, when: .deleteInstance(DeleteInstance(purge: purge)), now: F.t0 + 9)
                == then, "\(name)")
    }

    @Test func aDeletedInstancesTokensStopAtOnce() throws {
        let given = [F.created(), F.issued(1, F.scope("all:refreshable")), Self.deleted]
        let state = try #require(try fold(given))
        #expect(state.token(serial: TokenSerial(1))?.status(at: F.t0 + 2) == .valid)
        #expect(throws: Rejection.instanceDeleted) {
            try state.permissions(of: .token(F.hash(1)), at: F.t0 + 2)
        }
        #expect(
            try decide(given: given, when: .revokeToken(RevokeToken(hash: F.hash(1))))
                == .failure(.instanceDeleted))
        #expect(
            try decide(given: given, when: .deleteToken(DeleteToken(serial: TokenSerial(1))))
                == .failure(.instanceDeleted))
    }
}
