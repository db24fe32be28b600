import TextCoding
import TokenEngine

/// A sent TAN (spec §6, `POST .../challenge/$CID`): until when it may be solved and when the
/// next one may be requested.
struct ChallengeRequestResponse: WireResponse {
    var times: ChallengeTimes

    func write(to w: inout JSONWriter) {
        w.beginObject()
        w.key("solve_expiration")
        TalerTimestamp(micros: times.solveExpiration).write(into: &w)
        w.key("earliest_retransmission")
        TalerTimestamp(micros: times.earliestRetransmission).write(into: &w)
        w.endObject()
    }
}
