import Hummingbird
import TextCoding
import TokenDomain
import TokenEngine

/// Two-factor authentication over HTTP (spec §6): the `202` answer of a protected request,
/// the `Taler-Challenge-Ids` header of its repetition, and the two challenge endpoints.
extension MerchantAPI {
    /// What the request brings for the gate: `body` and the ids of `Taler-Challenge-Ids`
    /// (every field of that name, comma-separated).
    /// - Throws: 400 (26) for an id that cannot exist.
    static func twoFactor(_ request: Request, body: [UInt8]) throws(TalerError) -> TwoFactorRequest
    {
        let values = request.headers.filter { $0.name.canonicalName == "taler-challenge-ids" }
        guard !values.isEmpty else { return TwoFactorRequest(body: body, challengeIDs: nil) }
        var ids: [ChallengeID] = []
        for field in values {
            for part in field.value.split(separator: ",") {
                let text = String(
                    part.drop { $0 == " " || $0 == "\t" }.reversed().drop {
                        $0 == " " || $0 == "\t"
                    }.reversed())
                if text.isEmpty { continue }
                guard let id = ChallengeID(text) else {
                    throw .malformed(
                        "Taler-Challenge-Ids", "challenge ids are 1 to 64 of [A-Za-z0-9_-]")
                }
                ids.append(id)
            }
        }
        return TwoFactorRequest(body: body, challengeIDs: ids)
    }

    /// What binds a deletion's challenges: its one parameter.
    static func deletionBody(purge: Bool) -> [UInt8] {
        Array((purge ? "purge=yes" : "purge=no").utf8)
    }

    /// `204`, or `202` with the challenges.
    static func answer(_ guarded: Guarded<Void>) -> Response {
        switch guarded {
        case .performed: noContent()
        case .challenged(let challenges): challenges.response(status: .accepted, noStore: true)
        }
    }

    /// The `{challenge}` of the path; an id that cannot exist is unknown (404, 2126).
    static func challenge(in context: MerchantRequestContext) throws(TalerError) -> ChallengeID {
        guard let raw = context.parameters.get("challenge"), let id = ChallengeID(raw) else {
            throw TalerError(.merchantTANChallengeUnknown, hint: "unknown challenge")
        }
        return id
    }

    /// `POST [/instances/$ID]/challenge/$CID` (no auth; body `{}` or empty): sends a TAN.
    func transmitCode(_ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID)
        async throws -> Response
    {
        let bytes = try await body(request)
        if !bytes.isEmpty { _ = try RequestFields.object(bytes) }
        let id = try Self.challenge(in: context)
        let times: ChallengeTimes
        do {
            times = try await engine.transmitCode(instance: instance, challenge: id)
        } catch {
            var taler = TalerError.from(error)
            if case .challengeTooEarly(_, let earliest)? = error.rejection {
                let wait = (earliest - clock.nowMicroseconds() + 999_999) / 1_000_000
                taler.retryAfter = Int(max(1, wait))
            }
            throw taler
        }
        return ChallengeRequestResponse(times: times).response(noStore: true)
    }

    /// `POST [/instances/$ID]/challenge/$CID/confirm` (no auth; body `{"tan": "..."}`).
    func confirmCode(_ request: Request, _ context: MerchantRequestContext, _ instance: InstanceID)
        async throws -> Response
    {
        let bytes = try await body(request)
        let tan = try ChallengeSolveRequest(bytes).tan
        let id = try Self.challenge(in: context)
        try await engine.confirmCode(instance: instance, challenge: id, code: tan)
        return Self.noContent(noStore: true)
    }
}
