import Testing

@testable import TokenDomain

@Suite("Rejections map to Taler codes in one table and hold no secret")
struct RejectionTests {
    static let table: [(Rejection, Int, Int)] = [
        (.instanceUnknown, 2000, 404),
        (.instanceDeleted, 2016, 404),
        (.unauthorized(.tokenUnknown), 2015, 401),
        (.unauthorized(.credentialsChanged), 2015, 401),
        (.permissionInsufficient(missing: PermissionSet(.tokenRefresh)), 16, 403),
        (.malformedParameter("duration"), 26, 400),
        (.tokenUnknown(TokenSerial(4)), 2042, 404),
        (.instanceAlreadyExists, 2600, 409),
        (.badInstanceAuth, 2601, 400),
        (.badCredentialsChange, 2602, 400),
        (.purgeRequired, 2603, 409),
        (.duplicateTokenHash, 60, 500),
        (.challengeFailed(ChallengeID("C1")!, retryCounter: 2), 2125, 409),
        (.challengeUnknown(ChallengeID("C1")!), 2126, 404),
        (.challengeTooManyAttempts(ChallengeID("C1")!), 2127, 429),
        (.challengeSolved(ChallengeID("C1")!), 2129, 410),
        (.challengeTooEarly(ChallengeID("C1")!, earliestRetransmission: 5), 2130, 429),
        (.loginsBlocked(until: 5), 2131, 403),
        (.mfaMissing, 2031, 403),
        (.challengesNotUsable(.notSolved(ChallengeID("C1")!)), 2031, 403),
        (.duplicateChallengeID, 60, 500),
    ]

    @Test("code and HTTP status", arguments: table)
    func codes(rejection: Rejection, code: Int, status: Int) {
        #expect(rejection.errorCode.code == code)
        #expect(rejection.errorCode.httpStatus == status)
    }

    @Test func registryNumbersAreUnique() {
        #expect(Set(TalerErrorCode.allCases.map(\.rawValue)).count == TalerErrorCode.allCases.count)
        #expect(TalerErrorCode.merchantGenericUnauthorized.name == "MERCHANT_GENERIC_UNAUTHORIZED")
    }

    @Test func noSecretInRejectionsOrPasswordHashes() throws {
        let secretHash = Fixture.hash(1)
        let given = [Fixture.created(), Fixture.issued(1, Fixture.scope("all"))]
        let rejections = [
            try decide(
                given: given,
                when: .issueToken(
                    IssueToken(
                        scope: .readonly, newTokenHash: Fixture.hash(2),
                        authenticatedBy: .token(secretHash)))
            ).rejection,
            try decide(given: given, when: .revokeToken(RevokeToken(hash: Fixture.hash(5))))
                .rejection,
        ]
        for rejection in rejections {
            let text = String(describing: try #require(rejection)) + String(reflecting: rejection!)
            #expect(!text.contains(secretHash.description))
            #expect(!text.contains(Fixture.hash(5).description))
        }
        let password = Fixture.password
        for text in [String(describing: password), String(reflecting: password)] {
            #expect(text.contains("scrypt"))
            #expect(!text.contains("100, 101"))
        }
    }
}
