import Testing

@testable import TokenDomain

@Suite("RevokeToken, DeleteToken and authorisation")
struct TokenCommandTests {
    typealias F = Fixture

    static let base = [F.created(), F.issued(1, F.scope("all")), F.issued(2, F.scope("order-pos"))]

    static let deleteTable:
        [(String, [DomainEvent], UInt64, Int64, Result<[DomainEvent], Rejection>)] = [
            (
                "valid", base, 2, F.t0 + 1,
                .success([F.revoked(2, at: F.t0 + 1, reason: .deletedBySerial)])
            ),
            ("serial 0", base, 0, F.t0 + 1, .failure(.tokenUnknown(TokenSerial(0)))),
            ("never issued", base, 3, F.t0 + 1, .failure(.tokenUnknown(TokenSerial(3)))),
            ("huge serial", base, .max, F.t0 + 1, .failure(.tokenUnknown(TokenSerial(.max)))),
            ("expired", base, 2, F.t0 + F.day, .failure(.tokenUnknown(TokenSerial(2)))),
            (
                "self-revoked", base + [F.revoked(2, at: F.t0 + 1)], 2, F.t0 + 2,
                .failure(.tokenUnknown(TokenSerial(2)))
            ),
            (
                "already deleted", base + [F.revoked(2, at: F.t0 + 1, reason: .deletedBySerial)], 2,
                F.t0 + 2,
                .failure(.tokenUnknown(TokenSerial(2)))
            ),
            ("unknown instance", [], 1, F.t0, .failure(.instanceUnknown)),
        ]

    @Test("DeleteToken", arguments: deleteTable)
    func deleteToken(
        _ name: String, given: [DomainEvent], serial: UInt64, now: Int64,
        then: Result<[DomainEvent], Rejection>
    ) throws {
        let result = try decide(
            given: given, when: .deleteToken(DeleteToken(serial: TokenSerial(serial))), now: now)
        #expect(result == then, "\(name)")
        if case .failure(.tokenUnknown) = result {
            #expect(result.rejection?.errorCode.code == 2042)
            #expect(result.rejection?.errorCode.httpStatus == 404)
        }
    }

    @Test func deletingAgainOnTheNewStateIs2042() throws {
        let command = DomainCommand.deleteToken(DeleteToken(serial: TokenSerial(1)))
        let first = try decide(given: Self.base, when: command, now: F.t0 + 1).get()
        let second = try decide(given: Self.base + first, when: command, now: F.t0 + 2)
        #expect(second == .failure(.tokenUnknown(TokenSerial(1))))
        let state = try #require(try fold(Self.base + first))
        #expect(state.token(serial: TokenSerial(1))?.status(at: F.t0 + 1) == .revoked)
        #expect(state.token(serial: TokenSerial(1))?.status(at: F.t0) == .valid)
        #expect(state.token(serial: TokenSerial(2))?.status(at: F.t0 + 1) == .valid)
    }

    static let revokeTable:
        [(String, [DomainEvent], UInt64, Int64, Result<[DomainEvent], Rejection>)] = [
            ("valid", base, 1, F.t0 + 1, .success([F.revoked(1, at: F.t0 + 1)])),
            ("unknown", base, 7, F.t0 + 1, .failure(.unauthorized(.tokenUnknown))),
            ("expired", base, 1, F.t0 + F.day, .failure(.unauthorized(.tokenExpired))),
            (
                "revoked", base + [F.revoked(1, at: F.t0 + 1)], 1, F.t0 + 2,
                .failure(.unauthorized(.tokenRevoked))
            ),
            ("unknown instance", [], 1, F.t0, .failure(.instanceUnknown)),
        ]

    @Test("RevokeToken", arguments: revokeTable)
    func revokeToken(
        _ name: String, given: [DomainEvent], hash: UInt64, now: Int64,
        then: Result<[DomainEvent], Rejection>
    ) throws {
        let result = try decide(
            given: given, when: .revokeToken(RevokeToken(hash: F.hash(hash))), now: now)
        #expect(result == then, "\(name)")
    }

    @Test func revokingAgainOnTheNewStateIs401() throws {
        let command = DomainCommand.revokeToken(RevokeToken(hash: F.hash(1)))
        let first = try decide(given: Self.base, when: command, now: F.t0 + 1).get()
        let second = try decide(given: Self.base + first, when: command, now: F.t0 + 2)
        #expect(second == .failure(.unauthorized(.tokenRevoked)))
        #expect(second.rejection?.errorCode.httpStatus == 401)
    }

    static let authorizeTable: [(String, Credential, Permission, Rejection?)] = [
        ("password may change credentials", F.basicLogin, .instancesAuthWrite, nil),
        ("password may refresh", F.basicLogin, .tokenRefresh, nil),
        (
            "stale password", .password(basic: false, credentialGeneration: 7), .tokensRead,
            .unauthorized(.credentialsChanged)
        ),
        ("all may delete tokens", .token(F.hash(1)), .tokensWrite, nil),
        (
            "all may not refresh", .token(F.hash(1)), .tokenRefresh,
            .permissionInsufficient(missing: PermissionSet(.tokenRefresh))
        ),
        ("order-pos may lock inventory", .token(F.hash(2)), .inventoryLock, nil),
        (
            "order-pos may not list tokens", .token(F.hash(2)), .tokensRead,
            .permissionInsufficient(missing: PermissionSet(.tokensRead))
        ),
        ("unknown token", .token(F.hash(3)), .ordersRead, .unauthorized(.tokenUnknown)),
    ]

    @Test("authorize", arguments: authorizeTable)
    func authorize(
        _ name: String, credential: Credential, permission: Permission, rejection: Rejection?
    ) throws {
        let state = try #require(try fold(Self.base))
        let result = Result { () throws(Rejection) in
            try state.authorize(credential, requiring: permission, at: F.t0 + 1)
        }
        #expect(result.rejection == rejection, "\(name)")
    }
}

extension Result where Success == Void, Failure == Rejection {
    var rejection: Rejection? {
        if case .failure(let rejection) = self { return rejection }
        return nil
    }
}
