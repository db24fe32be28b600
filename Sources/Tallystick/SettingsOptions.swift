import ArgumentParser
import Foundation

/// The settings options every subcommand takes: `--config FILE` and a flag for each row of
/// ``ServerSettings/table`` (listed by `--help` from the table, not declared one by one).
struct SettingsOptions: ParsableArguments {
    @Option(
        help:
            "Config file (or TALLYSTICK_CONFIG): Taler INI with a [tallystick] section, or key = value lines."
    ) var config: String?

    @Argument(
        parsing: .allUnrecognized,
        help: ArgumentHelp(
            "Settings: --KEY VALUE for each setting listed below.", visibility: .hidden))
    var flags: [String] = []

    /// The resolved settings, and the keys given as flags.
    /// - Throws: `ValidationError` with one line for anything refused.
    func resolve() throws -> (settings: ServerSettings, flagged: Set<String>) {
        do {
            let given = try ServerSettings.parseFlags(flags)
            let settings = try ServerSettings.resolve(
                flags: given, environment: ProcessInfo.processInfo.environment,
                configFile: config)
            return (settings, Set(given.keys))
        } catch {
            throw ValidationError("\(error)")
        }
    }
}
