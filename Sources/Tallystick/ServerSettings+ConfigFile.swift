import Foundation

/// The config file (`--config FILE` or `TALLYSTICK_CONFIG`), in either of its two formats:
///
/// - **Taler's INI format** (``TalerConfigFile``), told apart by a `[section]` header or an
///   `@inline@` line. Tallystick's settings are in `[tallystick]`, under the keys of
///   ``ServerSettings/table`` in any case (`PORT` is `port`); an unknown key there is refused
///   with its line. ``talerOptions`` fill what `[tallystick]` leaves out (the merchant's TAN
///   helpers, the currency), so `@inline@ /etc/taler-merchant/taler-merchant.conf` shares
///   them. Every other section is ignored, though it must parse. `$VAR` is expanded in the
///   values that name a file or directory (``Setting/namesFile``), as Taler expands only
///   values it reads as file names: a password may hold a `$`.
/// - **`key = value` lines** (a file with neither a header nor a directive), read as before
///   the INI format was added: exact table keys, `#` starts a comment anywhere on a line,
///   unknown keys refused.
extension ServerSettings {
    /// A setting's value from the config file, and where it was written (`nil` in the
    /// `key = value` format, whose errors name no line).
    struct FileValue: Equatable {
        var value: String
        var location: TalerConfigFile.Location?
    }

    /// Taler's own options that give a setting when `[tallystick]` does not: by table key,
    /// the section and option read instead.
    static let talerOptions: [(key: String, section: String, option: String)] = [
        ("HELPER_SMS", "merchant", "HELPER_SMS"),
        ("HELPER_EMAIL", "merchant", "HELPER_EMAIL"),
        ("currency", "taler", "CURRENCY"),
    ]

    /// The settings the config file at `path` gives, by table key.
    /// - Throws: ``Invalid`` (one line) when the file or one it includes cannot be read, a
    ///   line does not parse (`path:line: ...`), a `[tallystick]` key is unknown, or a
    ///   variable cannot be expanded.
    static func readConfigFile(
        _ path: String, environment: [String: String], files: TalerConfigFile.Files
    ) throws -> [String: FileValue] {
        guard let text = files.read(path) else {
            throw Invalid(description: "cannot read the config file \(path)")
        }
        guard TalerConfigFile.hasSections(text) else {
            return try parseFile(text, path: path).mapValues { FileValue(value: $0) }
        }
        do {
            let file = try TalerConfigFile.parse(
                text, path: path, environment: environment, files: files)
            return try settings(in: file)
        } catch {
            throw Invalid(description: "\(error)")
        }
    }

    /// The settings of an INI file: its `[tallystick]` section, then ``talerOptions`` for
    /// the keys that section does not set.
    /// - Throws: ``TalerConfigFile/Invalid`` for an unknown `[tallystick]` key, or a value
    ///   naming a file whose variables cannot be expanded.
    static func settings(
        in file: TalerConfigFile
    ) throws(TalerConfigFile.Invalid) -> [String: FileValue] {
        var out = [String: FileValue]()
        for entry in file.entries(in: "tallystick") {
            guard
                let setting = table.first(where: { $0.key.lowercased() == entry.name.lowercased() })
            else {
                throw .init(
                    location: entry.location, message: "unknown key \(entry.name) in [tallystick]")
            }
            out[setting.key] = try value(of: entry, for: setting, in: file)
        }
        for taler in talerOptions where out[taler.key] == nil {
            guard let setting = setting(key: taler.key),
                let entry = file.entry(taler.section, taler.option)
            else { continue }
            out[taler.key] = try value(of: entry, for: setting, in: file)
        }
        return out
    }

    private static func value(
        of entry: TalerConfigFile.Entry, for setting: Setting, in file: TalerConfigFile
    ) throws(TalerConfigFile.Invalid) -> FileValue {
        FileValue(
            value: setting.namesFile ? try file.expanded(entry) : entry.value,
            location: entry.location)
    }

    /// The `key = value` format: one setting per line, `#` starts a comment.
    /// - Throws: ``Invalid`` naming the line of the first one without `=` or with an
    ///   unknown key.
    static func parseFile(_ text: String, path: String) throws -> [String: String] {
        var out = [String: String]()
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false)
            .enumerated()
        {
            let line =
                raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
                .first?.trimmingCharacters(in: .whitespaces) ?? ""
            if line.isEmpty { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw Invalid(description: "\(path):\(number + 1): expected key = value")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard setting(key: key) != nil else {
                throw Invalid(description: "\(path):\(number + 1): unknown key \(key)")
            }
            out[key] = value
        }
        return out
    }
}

extension Setting {
    /// Whether the value names a file or directory (`PATH` or `DIR` in `--help`): in the INI
    /// format, `$VAR` is expanded in these values and no others.
    var namesFile: Bool { valueName == "PATH" || valueName == "DIR" }
}
