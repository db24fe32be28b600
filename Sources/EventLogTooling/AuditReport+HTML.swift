import Crypto
import EventLog
import Foundation
import TextCoding
import TokenDomain

/// The report as one self-contained HTML page: inline CSS and SVG and a few lines of plain
/// JavaScript (the table's filter box), no font, image, script or style from anywhere else.
/// Its Content-Security-Policy allows exactly its own style and script (by their SHA-256)
/// and nothing from the network, so a browser refuses any request the page might make, and
/// nothing injected would run even if escaping failed. Everything taken from the log
/// (names, descriptions, ids) is HTML-escaped. Printable: the filter box is hidden on paper.
///
/// Stable hooks for tests and scripts: the header is `<header id="log" class="ok|damaged">`,
/// each instance a `<section class="instance" data-instance="ID">` holding the timeline
/// (`svg.timeline`: `g.token[data-serial]`, `path.lineage[data-parent][data-child]`,
/// `g.mark[data-kind][data-sequence]`), the daily chart (`svg.daily`) and `table.tokens`
/// (`tr[data-serial]`); the script sets `data-ready="yes"` on `<html>` when it has run.
extension AuditReport {
    /// The page.
    public func html() -> String {
        var page = HTMLPage()
        page.header(self)
        for instance in instances { page.instance(instance, report: self) }
        if instances.isEmpty {
            page.out += "<p class=\"empty\">No instance to show at that point.</p>\n"
        }
        page.out +=
            "<footer>Made by <code>tallystick-log report</code>. Times are UTC. Token hashes "
            + "are shortened to their first 8 hex digits; TANs and password hashes are never "
            + "shown, addresses are masked.</footer>\n"
        return page.document()
    }
}

/// Builds the page's text.
struct HTMLPage {
    var out = ""

    init() { out.reserveCapacity(1 << 20) }

    /// The page around the body, with its policy naming the style and script by hash.
    func document() -> String {
        func hash(_ text: String) -> String {
            "'sha256-" + Data(SHA256.hash(data: Data(text.utf8))).base64EncodedString() + "'"
        }
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src \(hash(Self.style)); script-src \(hash(Self.script)); img-src data:">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Tallystick audit report</title>
            <style>\(Self.style)</style>
            </head>
            <body>
            \(out)<script>\(Self.script)</script>
            </body>
            </html>

            """
    }

    // MARK: Header

    mutating func header(_ r: AuditReport) {
        let damaged = r.verification.failure != nil || r.foldFailure != nil
        out += "<header id=\"log\" class=\"\(damaged ? "damaged" : "ok")\">\n"
        out += "<h1>Tallystick audit report</h1>\n"
        if let failure = r.verification.failure {
            out +=
                "<p class=\"verdict\" data-bad-sequence=\"\(failure.sequence)\"><strong>The log does not verify at sequence \(failure.sequence)</strong>: "
                + HTMLText.escape(failure.reason)
                + ". Everything below is the log before that record (through record \(r.foldedThrough.sequence)); "
                + "nothing from record \(failure.sequence) on is shown.</p>\n"
        } else {
            out +=
                "<p class=\"verdict\"><strong>The log verifies</strong>: \(HTMLText.count(Int(r.verification.records), "record")) "
                + "in \(HTMLText.count(r.verification.streams, "stream")), every hash chained"
                + "\(r.verification.checkpoints > 0 ? ", \(HTMLText.count(r.verification.checkpoints, "checkpoint")) match" : "").</p>\n"
        }
        if let fold = r.foldFailure {
            out +=
                "<p class=\"verdict\" data-bad-sequence=\"\(fold.sequence)\"><strong>Record \(fold.sequence) does not fold</strong>: "
                + HTMLText.escape(fold.reason) + ". The state shown ends before it.</p>\n"
        }
        out += "<dl class=\"facts\">\n"
        fact(
            "Records",
            "\(HTMLText.count(r.logHead.sequence)), newest hash <code>\(r.logHead.hash.hex.prefix(16))…</code>"
        )
        if let bytes = r.logBytes { fact("Size", HTMLText.bytes(bytes)) }
        if let span = r.span {
            fact(
                "Recorded",
                "\(HTMLText.time(span.first)) to \(HTMLText.time(span.last)) (\(HTMLText.duration(span.last - span.first)))"
            )
        }
        var shown = "records 1 to \(HTMLText.count(r.foldedThrough.sequence))"
        if let from = r.options.from { shown += ", from \(HTMLText.time(from))" }
        if let to = r.options.to { shown += ", up to \(HTMLText.time(to))" }
        if let only = r.options.instance { shown += ", instance " + HTMLText.escape(only.rawValue) }
        fact("Shown", shown)
        fact("Status at", HTMLText.time(r.moment))
        fact(
            "Signed tree heads",
            r.treeHeads.isEmpty
                ? "none recorded"
                : "\(HTMLText.count(r.treeHeads.count)), the newest covering \(HTMLText.count(Int(r.treeHeads.last!.head.treeSize), "record")); "
                    + "check them with <code>tallystick-log verify --public-key KEY</code>")
        out += "</dl>\n"
        if !r.treeHeads.isEmpty { treeHeads(r.treeHeads) }
        out += "</header>\n"
    }

    mutating func fact(_ term: String, _ html: String) {
        out += "<dt>\(term)</dt><dd>\(html)</dd>\n"
    }

    static let listedTreeHeads = 20

    mutating func treeHeads(_ heads: [(sequence: UInt64, head: SignedTreeHead)]) {
        out += "<table class=\"tree-heads\">\n<caption>Signed tree heads"
        if heads.count > Self.listedTreeHeads {
            out += " (the newest \(Self.listedTreeHeads) of \(HTMLText.count(heads.count)))"
        }
        out +=
            "</caption>\n<thead><tr><th>tree size</th><th>signed at</th><th>root</th><th>key id</th><th>recorded as</th></tr></thead>\n<tbody>\n"
        for (sequence, head) in heads.suffix(Self.listedTreeHeads) {
            out +=
                "<tr data-tree-size=\"\(head.treeSize)\"><td class=\"num\">\(HTMLText.count(head.treeSize))</td>"
                + "<td>\(HTMLText.time(head.timestamp))</td><td><code>\(head.root.hex.prefix(16))…</code></td>"
                + "<td><code>\(Hex.encode(head.keyID).prefix(16))…</code></td><td class=\"num\">record \(HTMLText.count(sequence))</td></tr>\n"
        }
        out += "</tbody>\n</table>\n"
    }

    // MARK: One instance

    mutating func instance(_ i: AuditReport.InstanceReport, report: AuditReport) {
        let id = HTMLText.escape(i.id.rawValue)
        out += "<section class=\"instance\" id=\"instance-\(id)\" data-instance=\"\(id)\">\n"
        out += "<h2>\(id) <span class=\"name\">\(HTMLText.escape(i.name))</span>"
        if let deleted = i.deletedAt {
            out += " <span class=\"badge deleted\">deleted \(HTMLText.time(deleted))</span>"
        }
        out += "</h2>\n"
        let failed = i.daily.reduce(0) { $0 + $1.failedAttempts }
        let challenges = i.marks.filter { $0.kind == .challengeCreated }.count
        out +=
            "<p class=\"summary\">\(HTMLText.time(i.window.from)) to \(HTMLText.time(i.window.to)): "
            + "\(HTMLText.count(i.tokensInWindow, "token")) alive, \(HTMLText.count(challenges, "challenge")), "
            + "\(HTMLText.count(failed, "failed confirmation")); \(HTMLText.count(i.tokens.count)) tokens ever issued.</p>\n"
        if i.barStride > 1 {
            out +=
                "<p class=\"note sampled\">Sampled: the timeline draws \(HTMLText.count(i.bars.count)) of the \(HTMLText.count(i.tokensInWindow)) tokens "
                + "(every \(HTMLText.count(i.barStride))th by serial; lineage only between drawn tokens). The band “alive” counts all of them.</p>\n"
        }
        if i.marks.count < i.marksInWindow {
            out +=
                "<p class=\"note sampled\">The timeline shows the first \(HTMLText.count(i.marks.count)) of \(HTMLText.count(i.marksInWindow)) events.</p>\n"
        }
        AuditTimeline(instance: i).draw(into: &out)
        legend()
        dailyChart(i)
        challengeTable(i)
        table(i, report: report)
        out += "</section>\n"
    }

    mutating func legend() {
        out += "<ul class=\"legend\">"
        for scope in Scope.allCases {
            out +=
                "<li><svg width=\"18\" height=\"10\"><rect class=\"scope-\(scope.name)\" width=\"18\" height=\"10\"/></svg>\(scope.name)</li>"
        }
        out +=
            "<li><svg width=\"18\" height=\"10\"><rect class=\"scope-all refreshable\" x=\"1\" y=\"1\" width=\"16\" height=\"8\"/></svg>refreshable (outlined)</li>"
            + "<li><svg width=\"12\" height=\"12\"><path class=\"revoked-cap\" d=\"M2 2L10 10M10 2L2 10\"/></svg>revoked</li>"
            + "<li><svg width=\"14\" height=\"14\"><circle class=\"lineage-dot\" cx=\"7\" cy=\"2.5\" r=\"2\"/><path class=\"lineage\" d=\"M7 2V10\"/><path class=\"lineage-head\" d=\"M4 9.5L10 9.5L7 13.5Z\"/></svg>minted by refreshing (parent to child)</li>"
        for (kind, label) in AuditTimeline.legendMarks {
            out +=
                "<li><svg width=\"14\" height=\"14\" viewBox=\"-7 -7 14 14\">\(AuditTimeline.shape(kind))</svg>\(label)</li>"
        }
        out += "</ul>\n"
    }

    // MARK: Per-day chart

    mutating func dailyChart(_ i: AuditReport.InstanceReport) {
        guard !i.daily.isEmpty else { return }
        // At most 120 columns: days are summed into groups of `per` days beyond that.
        let per = max(1, (i.daily.count + 119) / 120)
        var groups = [(day: Int64, mints: Int, failed: Int)]()
        for start in Swift.stride(from: 0, to: i.daily.count, by: per) {
            let slice = i.daily[start..<min(start + per, i.daily.count)]
            groups.append(
                (
                    slice.first!.day, slice.reduce(0) { $0 + $1.mints },
                    slice.reduce(0) { $0 + $1.failedAttempts }
                ))
        }
        let peak = max(1, groups.map { max($0.mints, $0.failed) }.max() ?? 1)
        let width = 1_100
        let plotLeft = 92
        let plotWidth = width - plotLeft - 20
        let height = 120
        let top = 14
        let plotHeight = 80
        let column = Double(plotWidth) / Double(groups.count)
        let bar = max(1, min(28, column * 0.4))
        out +=
            "<h3>Tokens minted and failed confirmations per \(per == 1 ? "day" : "\(per) days") (UTC)</h3>\n"
            + "<svg class=\"daily\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"tokens minted and failed confirmations per day\">\n"
        out +=
            "<text class=\"axis\" x=\"\(plotLeft - 6)\" y=\"\(top + 4)\" text-anchor=\"end\">\(HTMLText.count(peak))</text>"
            + "<text class=\"axis\" x=\"\(plotLeft - 6)\" y=\"\(top + plotHeight)\" text-anchor=\"end\">0</text>"
            + "<line class=\"grid\" x1=\"\(plotLeft)\" x2=\"\(width - 20)\" y1=\"\(top)\" y2=\"\(top)\"/>"
            + "<line class=\"baseline\" x1=\"\(plotLeft)\" x2=\"\(width - 20)\" y1=\"\(top + plotHeight)\" y2=\"\(top + plotHeight)\"/>\n"
        let labelEvery = max(1, groups.count / 8)
        for (n, g) in groups.enumerated() {
            let x = Double(plotLeft) + column * Double(n) + column / 2
            let date = String(LogTool.formatTime(g.day * 86_400_000_000).prefix(10))
            out +=
                "<g class=\"day\" data-day=\"\(date)\" data-mints=\"\(g.mints)\" data-failed=\"\(g.failed)\">"
            out +=
                "<title>\(date): \(HTMLText.count(g.mints, "token")) minted, \(HTMLText.count(g.failed, "failed confirmation"))</title>"
            let hm = Double(g.mints) / Double(peak) * Double(plotHeight)
            let hf = Double(g.failed) / Double(peak) * Double(plotHeight)
            out +=
                "<rect class=\"mints\" x=\"\((x - bar).svg)\" y=\"\((Double(top + plotHeight) - hm).svg)\" width=\"\((bar).svg)\" height=\"\((hm).svg)\"/>"
                + "<rect class=\"failed\" x=\"\((x).svg)\" y=\"\((Double(top + plotHeight) - hf).svg)\" width=\"\((bar).svg)\" height=\"\((hf).svg)\"/>"
            if n % labelEvery == 0 {
                out +=
                    "<text class=\"axis\" x=\"\((x).svg)\" y=\"\(top + plotHeight + 16)\" text-anchor=\"middle\">\(date)</text>"
            }
            out += "</g>\n"
        }
        out +=
            "<rect class=\"mints\" x=\"\(width - 250)\" y=\"0\" width=\"10\" height=\"10\"/><text class=\"axis\" x=\"\(width - 236)\" y=\"9\">minted</text>"
            + "<rect class=\"failed\" x=\"\(width - 170)\" y=\"0\" width=\"10\" height=\"10\"/><text class=\"axis\" x=\"\(width - 156)\" y=\"9\">failed confirmations</text>\n"
        out += "</svg>\n"
    }

    // MARK: Challenge table

    mutating func challengeTable(_ i: AuditReport.InstanceReport) {
        guard !i.challenges.isEmpty else { return }
        out +=
            "<h3>Challenges</h3>\n<table class=\"challenges\">\n<thead><tr><th>challenge</th><th>for</th><th>to</th><th>created</th>"
            + "<th>codes sent</th><th>wrong codes</th><th>solved</th><th>ended</th></tr></thead>\n<tbody>\n"
        for c in i.challenges {
            let id = HTMLText.escape(c.id.rawValue)
            out +=
                "<tr data-challenge=\"\(id)\" class=\"\(c.ended?.how ?? "open")\"><td><code>\(id)</code></td>"
                + "<td>\(c.operation)</td><td>\(c.channel) \(HTMLText.escape(c.maskedAddress))</td>"
                + "<td class=\"t\">\(c.createdAt.map(HTMLText.time) ?? "before the window")</td>"
                + "<td class=\"num\">\(c.codesSent)</td><td class=\"num\">\(c.failedAttempts)</td>"
                + "<td class=\"t\">\(c.solvedAt.map(HTMLText.time) ?? "")</td>"
                + "<td class=\"t\">\(c.ended.map { "\($0.how) \(HTMLText.time($0.at))" } ?? "open")</td></tr>\n"
        }
        out += "</tbody>\n</table>\n"
    }

    // MARK: Token table

    mutating func table(_ i: AuditReport.InstanceReport, report: AuditReport) {
        out += "<h3>Tokens</h3>\n"
        if i.rows.count < i.tokensInWindow {
            out +=
                "<p class=\"note sampled\">The table lists the newest \(HTMLText.count(i.rows.count)) of the \(HTMLText.count(i.tokensInWindow)) tokens; "
                + "<code>tallystick-log state-at --json --instance \(HTMLText.escape(i.id.rawValue))</code> lists every one.</p>\n"
        }
        out +=
            "<p class=\"filter-row\"><input type=\"search\" class=\"filter\" placeholder=\"Filter tokens: serial, scope, description, date…\" aria-label=\"filter tokens\"> "
            + "<span class=\"shown\">\(HTMLText.count(i.rows.count)) tokens listed</span></p>\n"
        out +=
            "<table class=\"tokens\">\n<thead><tr><th>serial</th><th>scope</th><th>description</th><th>issued</th><th>expires</th>"
            + "<th>revoked</th><th>parent</th><th>status</th><th>hash</th></tr></thead>\n<tbody>\n"
        for index in i.rows {
            let t = i.tokens[index]
            let status = i.status(of: t, at: report.moment)
            out +=
                "<tr data-serial=\"\(t.serial.rawValue)\" class=\"\(status)\"><td class=\"num\">\(t.serial.rawValue)</td>"
            out +=
                "<td><span class=\"chip scope-\(t.scope.name)\"></span>\(t.tokenScope.wireName)</td><td>"
            if let d = t.description { out += HTMLText.escape(d) }
            out += "</td><td class=\"t\">\(HTMLText.time(t.createdAt))</td><td class=\"t\">"
            out += EventJSON.expiration(t.expiry).map(HTMLText.time) ?? "never"
            out += "</td><td class=\"t\">"
            if let revoked = t.revokedAt { out += HTMLText.time(revoked) }
            out += "</td><td>"
            switch t.origin {
            case .token(let parent): out += "token \(parent.rawValue)"
            case .password(let basic): out += basic ? "password (Basic)" : "password (Bearer)"
            }
            out +=
                "</td><td>\(status == "ended" ? "ended (instance deleted)" : status)</td><td><code>"
            t.hash.withUnsafeBytes { out += Hex.encode($0.prefix(4)) }
            out += "</code></td></tr>\n"
        }
        out += "</tbody>\n</table>\n"
    }

    // MARK: Style and script

    static let style = """
        :root{--ink:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bad:#b91c1c;--good:#15803d}
        *{box-sizing:border-box}
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",sans-serif;color:var(--ink);margin:0 auto;max-width:1180px;padding:24px 28px}
        h1{font-size:22px;margin:0 0 6px}h2{font-size:18px;margin:0 0 4px}h3{font-size:14px;margin:18px 0 6px;color:#374151}
        code{font:12px/1.3 ui-monospace,"DejaVu Sans Mono","Liberation Mono",monospace}
        header{border-left:6px solid var(--good);background:#f0fdf4;padding:12px 16px;border-radius:4px;margin-bottom:24px}
        header.damaged{border-left-color:var(--bad);background:#fef2f2}
        header.damaged .verdict strong{color:var(--bad)}header.ok .verdict strong{color:var(--good)}
        .verdict{margin:4px 0}
        dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}
        dt{color:var(--muted)}dd{margin:0}
        table{border-collapse:collapse;width:100%;font-size:12.5px}
        caption{text-align:left;font-weight:600;padding:6px 0}
        th{text-align:left;font-weight:600;color:#374151;border-bottom:2px solid var(--line);padding:4px 8px;position:sticky;top:0;background:#fff}
        td{border-bottom:1px solid var(--line);padding:3px 8px;vertical-align:top}
        td.num{text-align:right;font-variant-numeric:tabular-nums}
        table.tree-heads th{background:transparent}
        section.instance{border-top:1px solid var(--line);padding-top:18px;margin-top:28px}
        .name{font-weight:400;color:var(--muted)}
        .badge{font-size:12px;font-weight:600;border-radius:10px;padding:1px 8px;vertical-align:middle}
        .badge.deleted{background:#fee2e2;color:var(--bad)}
        .summary{margin:2px 0 8px;color:#374151}
        .note{background:#fffbeb;border:1px solid #fde68a;padding:4px 10px;border-radius:4px;font-size:13px}
        svg{display:block;width:100%;height:auto}
        .legend svg,.chip{display:inline-block;width:auto;vertical-align:middle;margin-right:4px}
        .legend{list-style:none;padding:0;margin:6px 0;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;color:#374151}
        .chip{width:10px;height:10px;border-radius:2px;margin-right:6px}
        text{font:11px system-ui,"Liberation Sans",sans-serif;fill:#374151}
        text.axis{fill:var(--muted)}text.lane{fill:#374151;font-weight:600}text.serial{font-size:9.5px;fill:#111827}
        .grid{stroke:#eef0f3;stroke-width:1}.baseline{stroke:#9ca3af;stroke-width:1}
        .band{fill:#c7d2fe;stroke:#6366f1;stroke-width:1}
        .scope-readonly{fill:#94a3b8;background:#94a3b8}.scope-write{fill:#a78bfa;background:#a78bfa}
        .scope-all{fill:#60a5fa;background:#60a5fa}.scope-order-simple{fill:#2dd4bf;background:#2dd4bf}
        .scope-order-pos{fill:#4ade80;background:#4ade80}.scope-order-mgmt{fill:#fbbf24;background:#fbbf24}
        .scope-order-full{fill:#f472b6;background:#f472b6}
        .refreshable{stroke:#1f2937;stroke-width:1.2}
        g.token{cursor:pointer}g.token:hover rect{filter:brightness(0.9)}
        g.token.expired rect{opacity:.75}
        .revoked-cap{stroke:var(--bad);stroke-width:2;fill:none}
        .open-end{fill:#1f2937}
        .lineage{stroke:#111827;stroke-width:1.4;fill:none}
        .lineage-dot,.lineage-head{fill:#111827}
        .lane-rule{stroke:#f3f4f6}
        .challenge-line{stroke:#7dd3fc;stroke-width:2}
        .block{fill:#fecaca;stroke:var(--bad);stroke-width:1}
        .deleted-line{stroke:var(--bad);stroke-width:1.5;stroke-dasharray:5 3}
        .mk-created{fill:#fff;stroke:#0369a1;stroke-width:1.6}.mk-sent{fill:#0369a1}
        .mk-failed{stroke:#dc2626;stroke-width:2.2;fill:none}.mk-solved{fill:#16a34a}
        .mk-consumed{fill:#166534}.mk-expired{fill:#fff;stroke:#9ca3af;stroke-width:1.5}
        .mk-credentials{fill:#7c3aed}.mk-details{fill:#fff;stroke:#7c3aed;stroke-width:1.5}
        .mk-validated{fill:#0d9488}.mk-instance{fill:#15803d}.mk-deleted{fill:var(--bad)}
        .mk-blocked{fill:var(--bad)}.mk-unblocked{fill:#fff;stroke:var(--bad);stroke-width:1.5}
        .mk-backend{fill:#fff;stroke:#6b7280;stroke-width:1.5}
        .daily .mints{fill:#60a5fa}.daily .failed{fill:#f87171}
        .filter-row{margin:4px 0 6px}
        input.filter{font:inherit;padding:4px 8px;width:340px;max-width:100%;border:1px solid #d1d5db;border-radius:4px}
        .shown{color:var(--muted);margin-left:8px}
        tr.revoked td,tr.ended td{color:#6b7280}tr.revoked td:nth-child(6){color:var(--bad)}
        tr.picked td{background:#fef9c3}td.t{white-space:nowrap}
        table.challenges tr.expired td:last-child{color:var(--bad)}table.challenges tr.used td:last-child{color:var(--good)}
        table.challenges td.num:nth-child(6){color:var(--bad)}
        footer{margin-top:32px;color:var(--muted);font-size:12px;border-top:1px solid var(--line);padding-top:8px}
        @media print{body{max-width:none;padding:0;font-size:11px}.filter-row{display:none}
        th{position:static}section.instance{break-before:page}tr{break-inside:avoid}header{break-after:avoid}}
        """

    static let script = """
        (function(){'use strict';
        document.querySelectorAll('section.instance').forEach(function(section){
        var input=section.querySelector('input.filter'),shown=section.querySelector('.shown');
        var rows=Array.prototype.slice.call(section.querySelectorAll('table.tokens tbody tr'));
        var texts=rows.map(function(r){return r.textContent.toLowerCase();});
        function apply(){var q=input.value.trim().toLowerCase(),n=0;
        rows.forEach(function(r,i){var hit=!q||texts[i].indexOf(q)>=0;r.hidden=!hit;if(hit)n++;});
        shown.textContent=n+' of '+rows.length+' listed tokens shown';}
        input.addEventListener('input',apply);
        section.querySelectorAll('g.token').forEach(function(g){g.addEventListener('click',function(){
        var row=section.querySelector('tr[data-serial="'+g.getAttribute('data-serial')+'"]');
        section.querySelectorAll('tr.picked').forEach(function(r){r.classList.remove('picked');});
        if(row){input.value='';apply();row.classList.add('picked');row.scrollIntoView({block:'center'});}});});
        apply();});
        document.documentElement.setAttribute('data-ready','yes');})();
        """
}
