import Testing
import TokenDomain

@testable import TokenEngine

@Suite("TAN codes")
struct TANCodeTests {
    @Test(arguments: [6, 8, 12])
    func codesHaveTheConfiguredNumberOfDigitsAndUseEveryDigit(_ digits: Int) {
        var seen = Set<Character>()
        var distinct = Set<String>()
        for _ in 0..<500 {
            let code = TANCodes.generate(digits: digits)
            #expect(code.count == digits)
            #expect(code.allSatisfy { $0.isASCII && $0.isNumber })
            seen.formUnion(code)
            distinct.insert(code)
        }
        #expect(seen.count == 10)
        #expect(distinct.count > 490)
    }

    @Test func theHashIsKeyedAndBoundToInstanceAndChallenge() {
        let key = TANCodes.randomKey()
        let one = ChallengeID("ONE")!
        let two = ChallengeID("TWO")!
        let shop = InstanceID("shop")!
        let cafe = InstanceID("cafe")!
        let base = TANCodes.hash("12345678", challenge: one, instance: shop, key: key)
        #expect(
            base.constantTimeEquals(
                TANCodes.hash("12345678", challenge: one, instance: shop, key: key)))
        #expect(
            !base.constantTimeEquals(
                TANCodes.hash("12345679", challenge: one, instance: shop, key: key)))
        #expect(
            !base.constantTimeEquals(
                TANCodes.hash("12345678", challenge: two, instance: shop, key: key)))
        #expect(
            !base.constantTimeEquals(
                TANCodes.hash("12345678", challenge: one, instance: cafe, key: key)))
        #expect(
            !base.constantTimeEquals(
                TANCodes.hash("12345678", challenge: one, instance: shop, key: TANCodes.randomKey())
            ))
        #expect("\(base)" == "TANHash(redacted)")
    }

    @Test func addressesAreMaskedForTheChallengeResponse() {
        #expect(TANCodes.mask("merchant@example.com", channel: .email) == "m***@example.com")
        #expect(TANCodes.mask("x@y", channel: .email) == "x***@y")
        #expect(TANCodes.mask("noatsign", channel: .email) == "n***")
        #expect(TANCodes.mask("+41791234567", channel: .sms) == "+*********67")
        #expect(TANCodes.mask("0791234567", channel: .sms) == "********67")
        #expect(TANCodes.mask("12", channel: .sms) == "**")
    }
}
