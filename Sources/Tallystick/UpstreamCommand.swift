import ArgumentParser
import EventLog
import Foundation
import TokenDomain
import TokenEngine

/// `tallystick upstream`: binding Tallystick to the merchant backend of setting `upstream`
/// (spec §9). Offline, like `passwd`: they refuse to run while a server holds the data
/// directory, and the server reads what they stored at its next start.
struct UpstreamCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upstream",
        abstract: "Connect to the merchant backend, or adopt one of its instances.",
        discussion: """
            Both read a password on standard input (its first line) and need the upstream
            setting (the merchant's base URL).
              echo "$MERCHANT_ADMIN_PASSWORD" | tallystick upstream connect --upstream http://127.0.0.1:9966
              echo "$SHOP_PASSWORD" | tallystick upstream adopt shop1 --rotate-merchant-password
            """,
        subcommands: [Connect.self, Adopt.self])

    /// ``ServerSettings/openOffline()``, once `upstream` is known to be set.
    static func open(_ options: SettingsOptions) async throws -> (any EventStore, TokenEngine) {
        let settings = try options.resolve().settings
        guard settings.upstream != nil else {
            throw ValidationError("no merchant backend: set upstream (--upstream URL)")
        }
        return try await settings.openOffline()
    }

    /// The first line of standard input: a password.
    static func password(for what: String) throws -> String {
        guard let line = readLine(strippingNewline: true), !line.isEmpty else {
            throw ValidationError("give \(what) on standard input")
        }
        return line
    }

    struct Connect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Mint the merchant's admin backend token and keep it for admin.",
            discussion: """
                Reads the merchant's admin password on standard input once, mints a token
                {"scope":"all","duration":{"d_us":"forever"}} with it and keeps it as admin's
                backend credential (in backend-credentials, 0600; the log records its
                fingerprint). Instances created, changed and deleted through Tallystick then
                change in the merchant too. When the log has no admin yet, it is created with
                the same password. Run it again to rotate the token.
                """)
        @OptionGroup var options: SettingsOptions

        func run() async throws {
            let password = try UpstreamCommand.password(for: "the merchant's admin password")
            let (log, engine) = try await UpstreamCommand.open(options)
            do {
                try await engine.connectMerchant(adminPassword: password)
            } catch {
                await log.close()
                throw ValidationError("cannot connect to the merchant backend: \(error.hint)")
            }
            let fingerprint = engine.instance(.admin)?.backendCredential
            await log.close()
            print(
                "tallystick: connected; admin's backend credential set"
                    + (fingerprint.map { " (fingerprint \($0))" } ?? ""))
        }
    }

    struct Adopt: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take over an existing merchant instance with its staff's password.",
            discussion: """
                Reads the instance's current merchant password on standard input, mints its
                backend token, reads its details, and creates the Tallystick instance with
                the same password, name, addresses and business fields: staff log in as
                before. With --rotate-merchant-password, the merchant's password is then
                replaced by one only Tallystick knows, so only Tallystick reaches the
                merchant instance. Safe to run again after an interruption.
                """)
        @Argument(help: "The instance id.") var instance: String
        @Flag(help: "Replace the merchant password by one only Tallystick knows.")
        var rotateMerchantPassword = false
        @OptionGroup var options: SettingsOptions

        func run() async throws {
            let id = try BackendCredentialCommand.instance(instance)
            let password = try UpstreamCommand.password(for: "the merchant password of \(id)")
            let (log, engine) = try await UpstreamCommand.open(options)
            let adoption: TokenEngine.Adoption
            do {
                adoption = try await engine.adoptMerchantInstance(
                    id, password: password, rotatePassword: rotateMerchantPassword)
            } catch {
                await log.close()
                throw ValidationError("cannot adopt \(id): \(error.hint)")
            }
            await log.close()
            print(
                "tallystick: \(id) \(adoption.created ? "adopted" : "was adopted before")"
                    + (adoption.rotated ? "; its merchant password is now Tallystick's" : ""))
        }
    }
}
