import ArgumentParser
import EventLog
import Foundation
import TokenDomain
import TokenEngine

/// `tallystick backend-credential`: the credentials with which the reverse proxy reaches the
/// merchant backend, per instance (spec §9). Offline, like `passwd`: the log's writer lock
/// makes these refuse to run while a server holds the same data directory; the server reads
/// the credentials at start.
struct BackendCredentialCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backend-credential",
        abstract: "Set, list or remove the merchant backend credential of an instance.",
        discussion: """
            The credential is what the merchant backend accepts after `secret-token:` (for
            example the secret of a token minted from the merchant with
            {"scope":"all","duration":{"d_us":"forever"}}). It is kept in backend-credentials
            in the data directory (mode 0600); the log records its fingerprint only.
              echo "$MERCHANT_TOKEN" | tallystick backend-credential set shop1
              tallystick backend-credential list
              tallystick backend-credential remove shop1
            """,
        subcommands: [Set.self, List.self, Remove.self])

    static func instance(_ text: String) throws -> InstanceID {
        guard let id = InstanceID(text) else {
            throw ValidationError("not a valid instance id: \(text)")
        }
        return id
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set or rotate an instance's backend credential (read from standard input).",
            discussion: "A leading secret-token: is dropped; the first line is the credential.")
        @Argument(help: "The instance id.") var instance: String
        @OptionGroup var options: SettingsOptions

        func run() async throws {
            let id = try BackendCredentialCommand.instance(instance)
            var secret = readLine(strippingNewline: true) ?? ""
            if secret.hasPrefix("secret-token:") { secret.removeFirst("secret-token:".count) }
            let (log, engine) = try await options.resolve().settings.openOffline()
            do {
                try await engine.setBackendCredential(instance: id, secret: secret)
            } catch {
                await log.close()
                throw ValidationError("cannot set the backend credential of \(id): \(error)")
            }
            await log.close()
            print(
                "tallystick: backend credential of \(id) set "
                    + "(fingerprint \(BackendCredentialStore.fingerprint(of: secret)))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every instance with a backend credential, with its fingerprint only.")
        @OptionGroup var options: SettingsOptions

        func run() async throws {
            let (log, engine) = try await options.resolve().settings.openOffline()
            for id in engine.instanceIDs() {
                guard let fingerprint = engine.instance(id)?.backendCredential else { continue }
                let usable = engine.backendCredential(for: id) != nil
                print("\(id) \(fingerprint)\(usable ? "" : " (the file lacks it: set it again)")")
            }
            for warning in engine.backendCredentialWarnings() { warn(warning) }
            await log.close()
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove an instance's backend credential.")
        @Argument(help: "The instance id.") var instance: String
        @OptionGroup var options: SettingsOptions

        func run() async throws {
            let id = try BackendCredentialCommand.instance(instance)
            let (log, engine) = try await options.resolve().settings.openOffline()
            do {
                try await engine.removeBackendCredential(instance: id)
            } catch {
                await log.close()
                throw ValidationError("cannot remove the backend credential of \(id): \(error)")
            }
            await log.close()
            print("tallystick: backend credential of \(id) removed")
        }
    }
}
