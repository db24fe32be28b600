/// Revoke a login token by serial (`DELETE .../private/tokens/$SERIAL`).
///
/// An unknown, expired or already revoked serial is rejected with 404 (code 2042). The
/// engine has checked `tokens-write` before deciding.
public struct DeleteToken: Hashable, Sendable {
    public var serial: TokenSerial

    public init(serial: TokenSerial) {
        self.serial = serial
    }
}
