import Foundation

/// A configuration file in the format of GNUnet and GNU Taler (`taler.conf(5)`, the
/// `taler-merchant.conf` an operator already has), read as GNUnet's `configuration.c` reads
/// it, with the departures listed at the end.
///
/// - Line by line; blank lines and whitespace around a line are ignored.
/// - `#` or `%` as the first character of a line (after whitespace) makes it a comment.
///   Nothing else is a comment: `PORT = 9966 # web` has the value `9966 # web`.
/// - `[section]` starts a section, `OPTION = VALUE` sets an option in it. Section and option
///   names are case-insensitive, values are not. A later value of an option replaces an
///   earlier one, whichever file either is in. Every file starts outside any section.
/// - A value that begins and ends with `"` loses those two quotes. There is no escape
///   character: `"a "b" c"` is `a "b" c`.
/// - `@inline@ FILE` reads FILE in place; `@inline-matching@ GLOB` every file GLOB matches,
///   in sorted order; `@inline-secret@ SECTION FILE` only SECTION of FILE, and nothing when
///   FILE cannot be read (the merchant's secrets belong to its own user). A relative FILE is
///   relative to the directory of the file that names it. A file that includes itself,
///   directly or through others, is refused.
/// - `$VAR`, `${VAR}` and `${VAR:-default}` are expanded only in values read as file names
///   (``expanded(_:)``, what `taler-config -f` does). VAR is looked up in `[PATHS]` first,
///   then in the environment, and what it stands for is expanded in turn. `$VAR` ends at
///   `/`, `\`, a space or the end of the value. There is no escape for `$`: as in GNUnet,
///   `$$` means nothing special.
///
/// Departures from GNUnet, each because GNUnet's behaviour would hide a mistake:
/// - a `$VAR` set neither in `[PATHS]` nor in the environment, without a default, is an
///   error (GNUnet logs a warning and keeps the text `$VAR`, which would make a data
///   directory literally named `$VAR`);
/// - a variable whose expansion comes back to itself is an error naming the chain (GNUnet
///   stops after 128 levels and keeps the text), and so is `${` without its `}`;
/// - `[PATHS]` holds only what the files set: Taler's installed defaults
///   (`share/taler/config.d/paths.conf`, e.g. `TALER_HOME`) are not read;
/// - an included path is used as written (`.` and `..` resolved), not through symbolic
///   links (GNUnet calls `realpath`); includes nest at most ``maximumNesting`` deep, which
///   also ends a cycle through a link.
///
/// Errors are one line, `path:line: what is wrong` (``Invalid``).
struct TalerConfigFile {
    /// A line of a file: `path:line`.
    struct Location: Equatable, Sendable, CustomStringConvertible {
        var path: String
        var line: Int
        var description: String { "\(path):\(line)" }
    }

    /// One option: its value as written (quotes removed, nothing expanded) and where.
    struct Entry: Equatable, Sendable {
        /// The option's name as written; names compare case-insensitively.
        var name: String
        var value: String
        var location: Location
    }

    /// Why a file cannot be used, in one line: `path:line: what is wrong`.
    struct Invalid: Error, Equatable, CustomStringConvertible {
        var location: Location
        var message: String
        var description: String { "\(location): \(message)" }
    }

    /// How files are read: the included ones, and the names a glob matches. Tests give their
    /// own, so that no test needs the disk.
    struct Files: Sendable {
        /// The text of the file at `path`, or `nil` when it cannot be read.
        var read: @Sendable (_ path: String) -> String?
        /// The paths that match `pattern` (`*`, `?`, `[...]`), in any order.
        var glob: @Sendable (_ pattern: String) -> [String]

        /// The file system.
        static let disk = Files(
            read: { path in
                guard let data = FileManager.default.contents(atPath: path) else { return nil }
                return String(data: data, encoding: .utf8)
            },
            glob: matchingPaths)
    }

    /// How deep `@inline@` may nest, and how many variables an expansion may go through.
    static let maximumNesting = 32
    static let maximumExpansionDepth = 128

    /// The sections by lowercased name; in each, the entries by lowercased option name.
    private(set) var sections: [String: [String: Entry]] = [:]
    /// What `$VAR` falls back to when `[PATHS]` does not set VAR.
    let environment: [String: String]

    /// Parses `text`, the file at `path`, with the files it includes read through `files`.
    /// Nothing is expanded yet: a value is expanded when it is read as a file name.
    /// - Throws: ``Invalid`` for the first line that is not a comment, a `[section]`, an
    ///   `OPTION = VALUE` inside a section or a known `@directive@`; for an included file
    ///   that cannot be read (an `@inline-secret@` one excepted) or that includes itself.
    static func parse(
        _ text: String, path: String, environment: [String: String], files: Files = .disk
    ) throws(Invalid) -> TalerConfigFile {
        var parser = Parser(files: files)
        try parser.read(text, path: normalized(path), secretSection: nil)
        var file = TalerConfigFile(environment: environment)
        file.sections = parser.sections
        return file
    }

    /// Whether `text` is in this format: some line, comments aside, is a `[section]` header
    /// or an `@directive@`. A file with neither is Tallystick's older `key = value` format.
    static func hasSections(_ text: String) -> Bool {
        lines(of: text).contains { line in
            (line.hasPrefix("[") && line.hasSuffix("]")) || line.hasPrefix("@")
        }
    }

    /// The option `option` of `section`, if set.
    func entry(_ section: String, _ option: String) -> Entry? {
        sections[section.lowercased()]?[option.lowercased()]
    }

    /// Every option of `section`, sorted by file path, then line.
    func entries(in section: String) -> [Entry] {
        (sections[section.lowercased()] ?? [:]).values.sorted {
            ($0.location.path, $0.location.line) < ($1.location.path, $1.location.line)
        }
    }

    /// The value of `entry` read as a file name: every `$VAR`, `${VAR}` and
    /// `${VAR:-default}` replaced, from `[PATHS]`, then the environment, then the default.
    /// - Throws: ``Invalid`` at the entry's line for a variable set nowhere without a
    ///   default, one whose expansion comes back to itself, or `${` without its `}`.
    func expanded(_ entry: Entry) throws(Invalid) -> String {
        try expand(entry.value[...], at: entry.location, through: [])
    }

    /// `text` with its variables replaced; `chain` holds the variables being expanded, by
    /// the name they were written with, outermost first.
    private func expand(
        _ text: Substring, at location: Location, through chain: [String]
    ) throws(Invalid) -> String {
        var out = ""
        var rest = text
        while let dollar = rest.firstIndex(of: "$") {
            out += rest[..<dollar]
            let start = rest.index(after: dollar)
            let name: Substring
            var fallback: Substring?
            let end: Substring.Index
            if start < rest.endIndex, rest[start] == "{" {
                guard let close = Self.closingBrace(in: rest[start...]) else {
                    throw Invalid(location: location, message: "missing } in \(text)")
                }
                let inner = rest[rest.index(after: start)..<close]
                if let colon = inner.firstIndex(of: ":") {
                    name = inner[..<colon]
                    var value = inner[inner.index(after: colon)...]
                    if value.first == "-" || value.first == "=" { value = value.dropFirst() }
                    fallback = value
                } else {
                    name = inner
                }
                end = rest.index(after: close)
            } else {
                end = rest[start...].firstIndex { "/\\ ".contains($0) } ?? rest.endIndex
                name = rest[start..<end]
            }
            if name.isEmpty, fallback == nil {
                out += rest[dollar..<end]  // a lone `$`: text, as in GNUnet
            } else {
                out += try value(of: String(name), default: fallback, at: location, through: chain)
            }
            rest = rest[end...]
        }
        return out + rest
    }

    /// The expanded value of variable `name`.
    private func value(
        of name: String, default fallback: Substring?, at location: Location,
        through chain: [String]
    ) throws(Invalid) -> String {
        if let first = chain.firstIndex(where: { $0.lowercased() == name.lowercased() }) {
            let loop = (chain[first...] + [name]).map { "$" + $0 }.joined(separator: " -> ")
            throw Invalid(location: location, message: "$\(name) refers to itself (\(loop))")
        }
        guard chain.count < Self.maximumExpansionDepth else {
            throw Invalid(
                location: location,
                message: "$\(name): more than \(Self.maximumExpansionDepth) variables deep")
        }
        if let path = entry("PATHS", name) {
            return try expand(path.value[...], at: location, through: chain + [name])
        }
        if let value = environment[name] {
            return try expand(value[...], at: location, through: chain + [name])
        }
        if let fallback {
            return try expand(fallback, at: location, through: chain)
        }
        throw Invalid(
            location: location,
            message:
                "$\(name) is set neither in [PATHS] nor in the environment (a default: ${\(name):-VALUE})"
        )
    }

    /// The `}` that closes the `{` `text` starts with.
    private static func closingBrace(in text: Substring) -> Substring.Index? {
        var open = 0
        for index in text.indices {
            switch text[index] {
            case "{": open += 1
            case "}":
                open -= 1
                if open == 0 { return index }
            default: break
            }
        }
        return nil
    }

    /// The lines of `text`, trimmed, blank ones and comments included (the line number is
    /// the offset plus one). A line ends at `\n`; `\r` and tabs count as spaces.
    fileprivate static func lines(of text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
            .map { $0.trimmingCharacters(in: blank)[...] }
            .map { $0.hasPrefix("#") || $0.hasPrefix("%") ? "" : $0 }
    }

    fileprivate static let blank = CharacterSet(charactersIn: " \t\r")

    /// `path` with `.` and `..` resolved and repeated slashes removed (a relative path stays
    /// relative; nothing is looked up on disk).
    fileprivate static func normalized(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." {
            if part == "..", let last = parts.last, last != ".." {
                parts.removeLast()
            } else if part != ".." || !path.hasPrefix("/") {
                parts.append(part)
            }
        }
        let joined = parts.joined(separator: "/")
        return path.hasPrefix("/") ? "/" + joined : joined
    }

    /// `name` as written in the file at `path`: relative to that file's directory.
    fileprivate static func resolve(_ name: Substring, from path: String) -> String {
        guard !name.hasPrefix("/") else { return normalized(String(name)) }
        let directory = (path as NSString).deletingLastPathComponent
        return normalized(directory.isEmpty ? String(name) : directory + "/" + name)
    }
}

/// The paths `glob(3)` finds for `pattern`.
private func matchingPaths(_ pattern: String) -> [String] {
    var found = glob_t()
    defer { globfree(&found) }
    guard glob(pattern, 0, nil, &found) == 0 else { return [] }
    return (0..<Int(found.gl_pathc)).compactMap { index in
        found.gl_pathv[index].map { String(cString: $0) }
    }
}

extension TalerConfigFile {
    /// Reads lines into sections, following the directives.
    private struct Parser {
        var sections: [String: [String: Entry]] = [:]
        let files: Files
        /// The files being read, outermost first: including one of them again is a cycle.
        var including: [String] = []

        init(files: Files) { self.files = files }

        /// Reads `text`, the file at `path`. `secretSection`: the file is read for
        /// `@inline-secret@`, where directives are not allowed.
        mutating func read(
            _ text: String, path: String, secretSection: String?
        ) throws(Invalid) {
            including.append(path)
            defer { including.removeLast() }
            var section: String?
            for (offset, line) in TalerConfigFile.lines(of: text).enumerated() where !line.isEmpty {
                let here = Location(path: path, line: offset + 1)
                if line.hasPrefix("@") {
                    if let secretSection {
                        throw .init(
                            location: here,
                            message:
                                "no directive in a file read by @inline-secret@ (for [\(secretSection)])"
                        )
                    }
                    try directive(line, at: here)
                } else if line.hasPrefix("["), line.hasSuffix("]") {
                    let name = line.dropFirst().dropLast().trimmingCharacters(
                        in: TalerConfigFile.blank)
                    guard !name.isEmpty else {
                        throw .init(location: here, message: "empty section name")
                    }
                    section = name.lowercased()
                    if sections[name.lowercased()] == nil { sections[name.lowercased()] = [:] }
                } else if let equals = line.firstIndex(of: "=") {
                    let name = line[..<equals].trimmingCharacters(in: TalerConfigFile.blank)
                    guard !name.isEmpty else {
                        throw .init(location: here, message: "no option name before =")
                    }
                    guard let section else {
                        throw .init(location: here, message: "\(name) is outside any [section]")
                    }
                    var value = line[line.index(after: equals)...].trimmingCharacters(
                        in: TalerConfigFile.blank)
                    if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                        value = String(value.dropFirst().dropLast())
                    }
                    sections[section, default: [:]][name.lowercased()] = .init(
                        name: name, value: value, location: here)
                } else {
                    throw .init(
                        location: here,
                        message: "expected [section], OPTION = VALUE or @inline@ FILE, not: \(line)"
                    )
                }
            }
        }

        /// Follows `@inline@`, `@inline-matching@` or `@inline-secret@` in `line`.
        mutating func directive(_ line: Substring, at here: Location) throws(Invalid) {
            let body = line.dropFirst()
            guard let close = body.firstIndex(of: "@") else {
                throw .init(location: here, message: "a directive ends with @, as in @inline@ FILE")
            }
            let name = body[..<close].lowercased()
            let argument = body[body.index(after: close)...].trimmingCharacters(
                in: TalerConfigFile.blank)[...]
            guard !argument.isEmpty else {
                throw .init(location: here, message: "@\(name)@ needs a file name")
            }
            switch name {
            case "inline":
                try include(TalerConfigFile.resolve(argument, from: here.path), at: here)
            case "inline-matching":
                let pattern = TalerConfigFile.resolve(argument, from: here.path)
                for path in files.glob(pattern).map(TalerConfigFile.normalized).sorted() {
                    try include(path, at: here)
                }
            case "inline-secret":
                guard let space = argument.firstIndex(where: { $0 == " " || $0 == "\t" }) else {
                    throw .init(location: here, message: "@inline-secret@ needs SECTION FILE")
                }
                let section = argument[..<space].lowercased()
                let file = argument[space...].trimmingCharacters(in: TalerConfigFile.blank)[...]
                let path = TalerConfigFile.resolve(file, from: here.path)
                try refuseCycle(path, at: here)
                guard let text = files.read(path) else { return }  // another user's secret
                var secret = Parser(files: files)
                secret.including = including
                try secret.read(text, path: path, secretSection: section)
                for (option, entry) in secret.sections[section] ?? [:] {
                    sections[section, default: [:]][option] = entry
                }
            default:
                throw .init(
                    location: here,
                    message:
                        "unknown directive @\(name)@ (@inline@, @inline-matching@, @inline-secret@)"
                )
            }
        }

        /// Reads the file at `path`, named at `here`.
        mutating func include(_ path: String, at here: Location) throws(Invalid) {
            try refuseCycle(path, at: here)
            guard let text = files.read(path) else {
                throw .init(location: here, message: "cannot read \(path)")
            }
            try read(text, path: path, secretSection: nil)
        }

        /// - Throws: when `path` is being read already, or includes nest too deep.
        func refuseCycle(_ path: String, at here: Location) throws(Invalid) {
            if let first = including.firstIndex(of: path) {
                let cycle = (including[first...] + [path]).joined(separator: " -> ")
                throw .init(location: here, message: "\(path) includes itself (\(cycle))")
            }
            guard including.count < TalerConfigFile.maximumNesting else {
                throw .init(
                    location: here,
                    message: "includes nest deeper than \(TalerConfigFile.maximumNesting) files")
            }
        }
    }
}
