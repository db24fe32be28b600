import TextCoding
import TokenEngine

/// The `202` of a protected request (spec §6): `{"challenges": [{challenge_id, tan_channel,
/// tan_info}...], "combi_and": bool}`. The engine's ``ChallengeResponse`` is that shape.
extension ChallengeResponse: WireResponse {
    func write(to w: inout JSONWriter) {
        w.beginObject()
        w.key("challenges")
        w.beginArray()
        for challenge in challenges {
            w.beginObject()
            w.key("challenge_id")
            w.string(challenge.id.rawValue)
            w.key("tan_channel")
            w.string(challenge.channel.wireName)
            w.key("tan_info")
            w.string(challenge.info)
            w.endObject()
        }
        w.endArray()
        w.key("combi_and")
        w.bool(combiAnd)
        w.endObject()
    }
}
