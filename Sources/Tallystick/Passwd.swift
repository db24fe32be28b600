import ArgumentParser
import EventLog
import Foundation
import TokenDomain
import TokenEngine

/// `tallystick passwd`: sets an instance's password offline, as `taler-merchant-passwd` does.
struct Passwd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Set an instance's password (on LMDB while no server runs; on PostgreSQL at any time).",
        discussion: """
            The password is read from TALER_MERCHANT_PASSWORD, else from the first line of
            standard input. On LMDB the log's writer lock makes this refuse to run while a
            server holds the same data directory; on a PostgreSQL store (--store) it may run
            beside the servers, which fold the change. Existing login tokens stay valid; revoke them if the old
            password leaked. When the instance is `admin` and does not exist yet, it is created.
              echo 'new secret' | tallystick passwd shop1
              TALER_MERCHANT_PASSWORD=s3cret tallystick passwd admin --data-dir /var/lib/tallystick
              tallystick passwd shop1 --config /etc/tallystick.conf < new-password
            It reads the server's settings (data-dir, map sizes) as `serve` does.

            """ + ServerSettings.helpText)

    @Argument(help: "The instance id, e.g. admin.") var instance: String
    @OptionGroup var options: SettingsOptions

    func run() async throws {
        guard let id = InstanceID(instance) else {
            throw ValidationError("not a valid instance id: \(instance)")
        }
        let settings = try options.resolve().settings
        var password = ProcessInfo.processInfo.environment["TALER_MERCHANT_PASSWORD"] ?? ""
        if password.isEmpty { password = readLine(strippingNewline: true) ?? "" }
        guard !password.isEmpty else {
            throw ValidationError(
                "no password: set TALER_MERCHANT_PASSWORD or give it on standard input")
        }
        let log = try await settings.openStore(needsServerStopped: true)
        do {
            let engine = try await TokenEngine(log: log, clock: SystemLogClock())
            if engine.instance(id) == nil, id == .admin {
                try await engine.createInstance(
                    .init(id: id, name: "admin", auth: .password(password)))
            } else {
                try await engine.changeCredentials(instance: id, to: .password(password), by: nil)
                    .value
            }
        } catch {
            await log.close()
            throw ValidationError("cannot set the password of \(id): \(error)")
        }
        await log.close()
        print("tallystick: password of \(id) changed")
    }
}
