import TextCoding

/// The body of `POST .../challenge/$CID/confirm` (spec §6): `{"tan": "..."}`.
struct ChallengeSolveRequest {
    var tan: String

    /// - Throws: 400, code 22 or 25.
    init(_ bytes: [UInt8]) throws(TalerError) {
        tan = try RequestFields.requiredString(try RequestFields.object(bytes), "tan")
    }
}
