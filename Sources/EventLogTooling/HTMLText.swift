import Foundation

/// Times and numbers as the page shows them.
enum HTMLText {
    /// `2026-09-21 14:13:20` (UTC).
    static func time(_ micros: Int64) -> String {
        var text = LogTool.formatTime(micros)
        text.removeLast()
        return text.replacingOccurrences(of: "T", with: " ")
    }

    /// `1,000,000`.
    static func count(_ n: some BinaryInteger) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// `count` with `noun`, `s` added unless one.
    static func count(_ n: Int, _ noun: String) -> String {
        "\(count(n)) \(noun)\(n == 1 ? "" : "s")"
    }

    /// A span of µs in words: `15 min`, `3.5 h`, `12 days`.
    static func duration(_ micros: Int64) -> String {
        let s = Double(micros) / 1e6
        if s < 120 { return String(format: "%.0f s", s) }
        if s < 7_200 { return String(format: "%.0f min", s / 60) }
        if s < 172_800 { return String(format: "%.1f h", s / 3_600) }
        return String(format: "%.0f days", s / 86_400)
    }

    static func bytes(_ n: Int) -> String {
        if n < 1 << 20 { return String(format: "%.1f KiB", Double(n) / 1_024) }
        if n < 1 << 30 { return String(format: "%.1f MiB", Double(n) / 1_048_576) }
        return String(format: "%.2f GiB", Double(n) / 1_073_741_824)
    }

    /// Escapes `text` for HTML text and attribute values (`&`, `<`, `>`, `"`, `'`).
    static func escape(_ text: String) -> String {
        guard
            text.utf8.contains(where: { $0 == 38 || $0 == 60 || $0 == 62 || $0 == 34 || $0 == 39 })
        else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

extension Double {
    /// An SVG coordinate: one decimal.
    var svg: String { String(format: "%.1f", self) }
}
