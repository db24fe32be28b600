import Testing

@testable import TokenDomain

@Suite("IssueToken: given events, when issuing, then events or rejection")
struct IssueTokenTests {
    typealias F = Fixture

    static func issue(
        _ wire: String, duration: TokenDuration = .default, description: String? = nil,
        hash: UInt64 = 100, by credential: Credential = F.basicLogin
    ) -> DomainCommand {
        .issueToken(
            IssueToken(
                F.scope(wire), duration: duration, description: description,
                newTokenHash: F.hash(hash), authenticatedBy: credential))
    }

    static func expectedIssue(
        _ serial: UInt64, _ wire: String, hash: UInt64 = 100, at: Int64 = F.t0,
        expiry: TokenExpiry, origin: TokenOrigin = .password(basic: true),
        description: String? = nil
    ) -> [DomainEvent] {
        let scope = F.scope(wire)
        return [
            .tokenIssued(
                TokenIssued(
                    serial: TokenSerial(serial), hash: F.hash(hash), scope: scope.scope,
                    refreshable: scope.refreshable, issuedAt: at, expiry: expiry,
                    description: description, origin: origin))
        ]
    }

    static let allWireScopes: [String] = Scope.allCases.flatMap {
        [$0.name, $0.name + ":refreshable"]
    }

    @Test("password credentials mint any scope", arguments: allWireScopes)
    func passwordMintsAnyScope(wire: String) throws {
        let result = try decide(given: [F.created()], when: Self.issue(wire, description: "pos"))
        #expect(
            result
                == .success(
                    Self.expectedIssue(1, wire, expiry: .at(F.t0 + F.day), description: "pos")))
    }

    @Test func legacyBearerPasswordIsRecordedAsNotBasic() throws {
        let credential = Credential.password(basic: false, credentialGeneration: 1)
        let result = try decide(given: [F.created()], when: Self.issue("write", by: credential))
        #expect(
            result
                == .success(
                    Self.expectedIssue(
                        1, "write", expiry: .at(F.t0 + F.day), origin: .password(basic: false))))
    }

    // MARK: durations

    static let durations: [(TokenDuration, UInt64?, TokenExpiry)] = [
        (.default, nil, .at(F.t0 + 86_400_000_000)),
        (.micros(3_600_000_000), nil, .at(F.t0 + F.hour)),
        (.micros(0), nil, .at(F.t0)),
        (.forever, nil, .never),
        (.forever, 3_600_000_000, .at(F.t0 + F.hour)),
        (.default, 3_600_000_000, .at(F.t0 + F.hour)),
        (.micros(7_200_000_000), 3_600_000_000, .at(F.t0 + F.hour)),
        (.micros(60_000_000), 3_600_000_000, .at(F.t0 + 60 * F.second)),
        (.micros(TokenDuration.maxMicros), nil, .at(F.t0 + Int64(TokenDuration.maxMicros))),
        (.micros(TokenDuration.maxMicros), UInt64.max, .at(F.t0 + Int64(TokenDuration.maxMicros))),
        (.forever, 0, .at(F.t0)),
    ]

    @Test("durations: default, zero, forever, capped, 2^53-1", arguments: durations)
    func duration(duration: TokenDuration, cap: UInt64?, expiry: TokenExpiry) throws {
        let result = try decide(
            given: [F.created()], when: Self.issue("all", duration: duration), cap: cap)
        #expect(result == .success(Self.expectedIssue(1, "all", expiry: expiry)))
    }

    @Test("durations out of range are malformed", arguments: [UInt64(1) << 53, UInt64.max])
    func durationTooLarge(micros: UInt64) throws {
        let result = try decide(
            given: [F.created()], when: Self.issue("all", duration: .micros(micros)))
        #expect(result.rejection == .malformedParameter("duration"))
        #expect(result.rejection?.errorCode.code == 26)
    }

    @Test func zeroDurationTokenIsExpiredAtIssue() throws {
        let events = try decide(given: [F.created()], when: Self.issue("all", duration: .micros(0)))
            .get()
        let state = try #require(try fold([F.created()] + events))
        let token = try #require(state.token(serial: TokenSerial(1)))
        #expect(token.status(at: F.t0) == .expired)
        #expect(token.status(at: F.t0 - 1) == .valid)
        #expect(throws: Rejection.unauthorized(.tokenExpired)) {
            try state.permissions(of: .token(F.hash(100)), at: F.t0)
        }
    }

    @Test func expiryIsExclusive() throws {
        let state = try #require(try fold([F.created(), F.issued(1, F.scope("all"))]))
        let token = try #require(state.token(serial: TokenSerial(1)))
        #expect(token.status(at: F.t0 + F.day - 1) == .valid)
        #expect(token.status(at: F.t0 + F.day) == .expired)
    }

    @Test func expirySaturatesBeforeTheNeverSentinel() {
        let expiry = TokenDuration.micros(TokenDuration.maxMicros).expiry(
            issuedAt: Int64.max - 5, cap: nil)
        #expect(expiry == .at(Int64.max - 1))
    }

    // MARK: the subset rule

    static let subset: [(String, String, PermissionSet?)] = [
        ("order-pos:refreshable", "order-full", PermissionSet(.ordersRefund)),
        ("order-pos:refreshable", "order-pos", nil),
        ("order-pos:refreshable", "order-pos:refreshable", nil),
        ("order-pos:refreshable", "order-simple:refreshable", nil),
        ("order-pos:refreshable", "order-mgmt", PermissionSet(.ordersRefund)),
        (
            "order-pos:refreshable", "readonly",
            Scope.readonly.permissions(refreshable: false)
                .subtracting(PermissionSet([.ordersRead, .productsRead]))
        ),
        ("order-mgmt:refreshable", "order-pos", PermissionSet([.inventoryLock, .productsRead])),
        ("order-full:refreshable", "order-pos:refreshable", nil),
        ("order-full:refreshable", "order-mgmt:refreshable", nil),
        (
            "order-full:refreshable", "all",
            Scope.all.permissions(refreshable: false)
                .subtracting(Scope.orderFull.permissions(refreshable: false))
        ),
        ("readonly:refreshable", "order-simple", PermissionSet(.ordersWrite)),
        ("readonly:refreshable", "readonly", nil),
        ("all:refreshable", "readonly", nil),
        ("all:refreshable", "order-full:refreshable", nil),
        ("all:refreshable", "all:refreshable", nil),
        ("all:refreshable", "write", nil),
        ("write:refreshable", "all:refreshable", nil),
        ("order-simple:refreshable", "order-simple", nil),
        ("order-simple:refreshable", "order-pos", PermissionSet([.inventoryLock, .productsRead])),
    ]

    @Test("the subset rule, both ways", arguments: subset)
    func subsetRule(presenting: String, requested: String, missing: PermissionSet?) throws {
        let given = [F.created(), F.issued(1, F.scope(presenting))]
        let result = try decide(
            given: given, when: Self.issue(requested, hash: 2, by: .token(F.hash(1))),
            now: F.t0 + F.hour)
        if let missing {
            #expect(result == .failure(.permissionInsufficient(missing: missing)))
            #expect(result.rejection?.errorCode.httpStatus == 403)
        } else {
            #expect(
                result
                    == .success(
                        Self.expectedIssue(
                            2, requested, hash: 2, at: F.t0 + F.hour,
                            expiry: .at(F.t0 + F.hour + F.day),
                            origin: .token(parent: TokenSerial(1)))))
        }
    }

    @Test("refresh needs token-refresh", arguments: Scope.allCases)
    func refreshWithoutTokenRefresh(scope: Scope) throws {
        let given = [F.created(), F.issued(1, TokenScope(scope))]
        let result = try decide(
            given: given, when: Self.issue("readonly", hash: 2, by: .token(F.hash(1))))
        #expect(result == .failure(.permissionInsufficient(missing: PermissionSet(.tokenRefresh))))
        #expect(result.rejection?.errorCode.code == 16)
    }

    // MARK: presenting tokens that cannot authenticate

    static let badPresenting: [(String, [DomainEvent], Int64, Rejection.UnauthorizedReason)] = [
        ("unknown", [F.created()], F.t0, .tokenUnknown),
        (
            "revoked",
            [F.created(), F.issued(1, F.scope("all:refreshable")), F.revoked(1, at: F.t0 + 1)],
            F.t0 + 2, .tokenRevoked
        ),
        (
            "deleted by serial",
            [
                F.created(), F.issued(1, F.scope("all:refreshable")),
                F.revoked(1, at: F.t0 + 1, reason: .deletedBySerial),
            ],
            F.t0 + 2, .tokenRevoked
        ),
        (
            "expired", [F.created(), F.issued(1, F.scope("all:refreshable"))], F.t0 + F.day,
            .tokenExpired
        ),
        (
            "revoked, clock stepped back",
            [
                F.created(), F.issued(1, F.scope("all:refreshable")),
                F.revoked(1, at: F.t0 + F.hour),
            ],
            F.t0 + 1, .tokenRevoked
        ),
    ]

    @Test("refresh with a token that cannot authenticate", arguments: badPresenting)
    func refreshWithBadToken(
        _ name: String, given: [DomainEvent], now: Int64, reason: Rejection.UnauthorizedReason
    ) throws {
        let result = try decide(
            given: given, when: Self.issue("readonly", hash: 2, by: .token(F.hash(1))), now: now)
        #expect(result == .failure(.unauthorized(reason)), "\(name)")
        #expect(result.rejection?.errorCode.code == 2015)
    }

    @Test func unauthenticatedIsReportedBeforeAMalformedDuration() throws {
        let result = try decide(
            given: [F.created()],
            when: Self.issue("readonly", duration: .micros(.max), by: .token(F.hash(9))))
        #expect(result == .failure(.unauthorized(.tokenUnknown)))
    }

    @Test func refreshingKeepsTheParentAndIsNotCappedByIt() throws {
        let parent = F.issued(1, F.scope("order-pos:refreshable"), expiry: .at(F.t0 + F.hour))
        let now = F.t0 + F.hour - 1
        let result = try decide(
            given: [F.created(), parent],
            when: Self.issue(
                "order-pos:refreshable", duration: .forever, hash: 2, by: .token(F.hash(1))),
            now: now)
        let events = try result.get()
        #expect(
            events
                == Self.expectedIssue(
                    2, "order-pos:refreshable", hash: 2, at: now, expiry: .never,
                    origin: .token(parent: TokenSerial(1))))
        let state = try #require(try fold([F.created(), parent] + events))
        #expect(state.token(serial: TokenSerial(1))?.status(at: now) == .valid)
        #expect(state.token(serial: TokenSerial(2))?.status(at: F.t0 + 1000 * F.day) == .valid)
    }

    // MARK: instance and credential generation

    @Test func unknownInstance() throws {
        let result = try decide(given: [], when: Self.issue("all"))
        #expect(result == .failure(.instanceUnknown))
        #expect(result.rejection?.errorCode.code == 2000)
    }

    @Test(
        "a deleted instance refuses every credential",
        arguments: [
            F.basicLogin, Credential.token(F.hash(1)),
        ])
    func deletedInstance(credential: Credential) throws {
        let given = [
            F.created(), F.issued(1, F.scope("all:refreshable")),
            DomainEvent.instanceDeleted(InstanceDeleted(at: F.t0 + 1)),
        ]
        let result = try decide(
            given: given, when: Self.issue("readonly", hash: 2, by: credential), now: F.t0 + 2)
        #expect(result == .failure(.instanceDeleted))
        #expect(result.rejection?.errorCode.code == 2016)
    }

    @Test func staleCredentialGenerationIsRefused() throws {
        let changed = DomainEvent.instanceCredentialsChanged(
            InstanceCredentialsChanged(
                at: F.t0 + 1, auth: .password(F.otherPassword), generation: 2))
        let stale = try decide(
            given: [F.created(), changed], when: Self.issue("all"), now: F.t0 + 2)
        #expect(stale == .failure(.unauthorized(.credentialsChanged)))
        #expect(stale.rejection?.errorCode.code == 2015)
        let current = try decide(
            given: [F.created(), changed],
            when: Self.issue("all", by: .password(basic: true, credentialGeneration: 2)),
            now: F.t0 + 2)
        #expect(
            current
                == .success(
                    Self.expectedIssue(1, "all", at: F.t0 + 2, expiry: .at(F.t0 + 2 + F.day))))
    }

    @Test func aPasswordCheckedAheadOfTheStateIsRefused() throws {
        let result = try decide(
            given: [F.created()],
            when: Self.issue("all", by: .password(basic: true, credentialGeneration: 2)))
        #expect(result == .failure(.unauthorized(.credentialsChanged)))
    }

    // MARK: re-running on the new state

    @Test func issuingAgainOnTheNewStateGetsTheNextSerial() throws {
        var events = [F.created()]
        for serial in UInt64(1)...3 {
            let new = try decide(given: events, when: Self.issue("readonly", hash: 100 + serial))
                .get()
            #expect(
                new
                    == Self.expectedIssue(
                        serial, "readonly", hash: 100 + serial, expiry: .at(F.t0 + F.day)))
            events += new
        }
        let state = try #require(try fold(events))
        #expect(state.nextSerial == TokenSerial(4))
    }

    @Test func aRepeatedHashIsRefused() throws {
        let result = try decide(
            given: [F.created(), F.issued(1, F.scope("all"))], when: Self.issue("all", hash: 1))
        #expect(result == .failure(.duplicateTokenHash))
    }
}
