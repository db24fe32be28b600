import Foundation
import Testing

@testable import Tallystick

extension TalerConfigFile.Files {
    /// Files held in memory by path (no disk); a glob matches as `glob(3)` would.
    static func memory(_ contents: [String: String]) -> Self {
        Self(
            read: { contents[$0] },
            glob: { pattern in
                contents.keys.filter { fnmatch(pattern, $0, FNM_PATHNAME) == 0 }
            })
    }
}

/// The INI format of GNUnet and Taler (`taler.conf(5)`), as ``TalerConfigFile`` reads it.
@Suite("Taler config file")
struct TalerConfigFileTests {
    static func parse(
        _ text: String, environment: [String: String] = [:], files: [String: String] = [:]
    ) throws -> TalerConfigFile {
        try TalerConfigFile.parse(
            text, path: "/etc/tallystick/main.conf", environment: environment,
            files: .memory(files))
    }

    /// The error `text` is refused with, as the one line a user sees.
    static func refusal(
        _ text: String, environment: [String: String] = [:], files: [String: String] = [:],
        expanding: (section: String, option: String)? = nil
    ) -> String? {
        do {
            let file = try parse(text, environment: environment, files: files)
            if let expanding, let entry = file.entry(expanding.section, expanding.option) {
                _ = try file.expanded(entry)
            }
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func sectionsOptionsCommentsAndQuotes() throws {
        let file = try Self.parse(
            """
              # a comment
            % another comment, GNUnet's other mark
            [Merchant]
            PORT = 9966 # not a comment: only a line can be one
            Name=  "  spaced  "  \r
            INNER = "a "b" c"
            HALF = "open
            [merchant]
            port = 9967
            """)
        #expect(file.entry("merchant", "Port")?.value == "9967")  // the later one, any case
        #expect(file.entry("MERCHANT", "name")?.value == "  spaced  ")
        #expect(file.entry("merchant", "inner")?.value == #"a "b" c"#)  // no escapes
        #expect(file.entry("merchant", "half")?.value == #""open"#)
        #expect(
            file.entry("merchant", "port")?.location.description == "/etc/tallystick/main.conf:9")
        #expect(file.entries(in: "merchant").map(\.name) == ["Name", "INNER", "HALF", "port"])
    }

    @Test(
        "expansion: [PATHS] first, then the environment, then the default, recursively",
        arguments: [
            ("$DATA/log", "/srv/shop/taler/log"),
            ("${DATA}/log", "/srv/shop/taler/log"),
            ("${OPERATOR}/x", "/home/op/x"),  // the environment when [PATHS] does not set it
            ("${HOME}/x", "/srv/shop/x"),  // [PATHS] before the environment
            ("${home}/x", "/srv/shop/x"),  // [PATHS] names are case-insensitive, like options
            ("${NOWHERE:-/fallback}/x", "/fallback/x"),
            ("${NOWHERE:-${NEITHER:-$DATA}}/x", "/srv/shop/taler/x"),
            ("${NOWHERE:=/also}", "/also"),  // GNUnet reads := as :-
            ("$FROM_ENV", "/srv/shop/taler/env"),  // environment values are expanded too
            ("a$/b$", "a$/b$"),  // a `$` that names nothing is text
            ("no variables", "no variables"),
        ])
    func expansion(value: String, expected: String) throws {
        let file = try Self.parse(
            """
            [PATHS]
            HOME = /srv/shop
            DATA = ${HOME:-/var/lib}/taler
            [x]
            V = \(value)
            """,
            environment: ["HOME": "/home/op", "OPERATOR": "/home/op", "FROM_ENV": "$DATA/env"])
        let entry = try #require(file.entry("x", "v"))
        #expect(try file.expanded(entry) == expected)
        #expect(entry.value == value)  // stored as written; expanded only when read as a path
    }

    /// GNUnet logs a warning and keeps `$TALER_NOWHERE` as text; that would make a directory
    /// named `$TALER_NOWHERE`, so it is refused here, at the line of the value being read.
    @Test func anUndefinedVariableWithoutDefaultIsRefused() {
        let text = "[tallystick]\n\ndata-dir = $TALER_NOWHERE/tallystick\n"
        #expect(
            Self.refusal(text, expanding: ("tallystick", "data-dir"))
                == "/etc/tallystick/main.conf:3: $TALER_NOWHERE is set neither in [PATHS] nor in the environment (a default: ${TALER_NOWHERE:-VALUE})"
        )
        // Never read as a path, it is never expanded: merchant options may use Taler's
        // installed [PATHS] defaults, which are not read.
        #expect(Self.refusal(text) == nil)
    }

    @Test func aVariableLoopIsRefusedWithTheChain() {
        let text = "[paths]\nA = ${B}/a\nB = $C\nC = ${a:-x}\n[x]\nV = $A/v\n"
        #expect(
            Self.refusal(text, expanding: ("x", "v"))
                == "/etc/tallystick/main.conf:6: $a refers to itself ($A -> $B -> $C -> $a)")
        #expect(
            Self.refusal("[x]\nV = ${A/v\n", expanding: ("x", "v"))
                == "/etc/tallystick/main.conf:2: missing } in ${A/v")
    }

    @Test func inlineIsRelativeToTheIncludingFile() throws {
        let file = try Self.parse(
            "[x]\nA = main\n@inline@ conf.d/first.conf\nC = main again\n",
            files: [
                "/etc/tallystick/conf.d/first.conf":
                    "[y]\nB = first\n@INLINE@ ../shared/second.conf\n",
                "/etc/tallystick/shared/second.conf": "[x]\nA = second\n",
            ])
        #expect(file.entry("x", "a")?.value == "second")
        #expect(
            file.entry("x", "a")?.location.description == "/etc/tallystick/shared/second.conf:2")
        #expect(file.entry("y", "b")?.value == "first")
        // The section of the including file goes on after the include.
        #expect(file.entry("x", "c")?.value == "main again")
    }

    @Test func anIncludeCycleIsRefused() {
        #expect(
            Self.refusal(
                "[x]\n@inline@ a.conf\n",
                files: [
                    "/etc/tallystick/a.conf": "[a]\n\n@inline@ /etc/tallystick/b.conf\n",
                    "/etc/tallystick/b.conf": "@inline@ ./main.conf\n",
                ])
                == "/etc/tallystick/b.conf:1: /etc/tallystick/main.conf includes itself (/etc/tallystick/main.conf -> /etc/tallystick/a.conf -> /etc/tallystick/b.conf -> /etc/tallystick/main.conf)"
        )
        #expect(
            Self.refusal(
                "@inline@ main.conf\n", files: ["/etc/tallystick/main.conf": ""])
                == "/etc/tallystick/main.conf:1: /etc/tallystick/main.conf includes itself (/etc/tallystick/main.conf -> /etc/tallystick/main.conf)"
        )
        // The same file twice, one after the other, is no cycle.
        #expect(
            Self.refusal(
                "@inline@ a.conf\n@inline@ a.conf\n", files: ["/etc/tallystick/a.conf": "[a]"])
                == nil)
    }

    @Test func inlineMatchingReadsEveryMatchInSortedOrder() throws {
        let file = try Self.parse(
            "@inline-matching@ conf.d/*.conf\n",
            files: [
                "/etc/tallystick/conf.d/20-b.conf": "[x]\nV = b\nB = b\n",
                "/etc/tallystick/conf.d/10-a.conf": "[x]\nV = a\nA = a\n",
                "/etc/tallystick/conf.d/30-c.txt": "[x]\nV = c\n",
            ])
        #expect(file.entry("x", "v")?.value == "b")
        #expect(file.entry("x", "a")?.value == "a")
        #expect(try Self.parse("@inline-matching@ none/*.conf\n").sections.isEmpty)
    }

    @Test func inlineSecretTakesOneSectionAndMayBeUnreadable() throws {
        let secret = "[tallystick]\nadmin-password = s3cret\n[merchant]\nPORT = 1\n"
        let file = try Self.parse(
            """
            [merchant]
            PORT = 9966
            @inline-secret@ tallystick secrets/tallystick.secret.conf
            @inline-secret@ merchantdb-postgres secrets/merchant-db.secret.conf
            """,
            files: ["/etc/tallystick/secrets/tallystick.secret.conf": secret])
        #expect(file.entry("tallystick", "admin-password")?.value == "s3cret")
        #expect(file.entry("merchant", "port")?.value == "9966")  // other sections: not taken
        #expect(file.entry("merchantdb-postgres", "config") == nil)  // unreadable: nothing
        #expect(
            Self.refusal(
                "@inline-secret@ tallystick s.conf\n",
                files: ["/etc/tallystick/s.conf": "@inline@ other.conf\n"])
                == "/etc/tallystick/s.conf:1: no directive in a file read by @inline-secret@ (for [tallystick])"
        )
    }

    @Test(
        "refused, with the file and line",
        arguments: [
            ("PORT = 1\n", "/etc/tallystick/main.conf:1: PORT is outside any [section]"),
            (
                "[x]\n\njust words\n",
                "/etc/tallystick/main.conf:3: expected [section], OPTION = VALUE or @inline@ FILE, not: just words"
            ),
            ("[x]\n = 1\n", "/etc/tallystick/main.conf:2: no option name before ="),
            ("[ ]\n", "/etc/tallystick/main.conf:1: empty section name"),
            (
                "@include@ x.conf\n",
                "/etc/tallystick/main.conf:1: unknown directive @include@ (@inline@, @inline-matching@, @inline-secret@)"
            ),
            ("@inline@\n", "/etc/tallystick/main.conf:1: @inline@ needs a file name"),
            (
                "@inline x.conf\n",
                "/etc/tallystick/main.conf:1: a directive ends with @, as in @inline@ FILE"
            ),
            (
                "[x]\n@inline@ gone.conf\n",
                "/etc/tallystick/main.conf:2: cannot read /etc/tallystick/gone.conf"
            ),
            (
                "@inline@ bad.conf\n",
                "/etc/tallystick/bad.conf:2: expected [section], OPTION = VALUE or @inline@ FILE, not: oops"
            ),
            (
                "@inline-secret@ tallystick\n",
                "/etc/tallystick/main.conf:1: @inline-secret@ needs SECTION FILE"
            ),
        ])
    func refused(text: String, error: String) {
        #expect(Self.refusal(text, files: ["/etc/tallystick/bad.conf": "[x]\noops\n"]) == error)
    }

    @Test func aFileWithoutHeaderOrDirectiveIsTheOlderFormat() {
        #expect(!TalerConfigFile.hasSections("# [tallystick]\nport = 1 # [x]\n"))
        #expect(TalerConfigFile.hasSections("port = 1\n  [tallystick]  \n"))
        #expect(TalerConfigFile.hasSections("@inline@ taler.conf\n"))
    }
}
