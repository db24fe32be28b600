import TokenDomain

/// One instance's timeline as SVG: a time axis, a band counting the tokens alive, a lane per
/// drawn token (a bar from issue to revocation or expiry, coloured by scope, outlined when
/// refreshable, crossed when revoked, an arrow when it outlives the window), dashed links
/// from each parent to the tokens minted by refreshing it, then rows of marks: the instance's
/// own events, login blocks, and the challenges (a line from creation to their last step,
/// with a mark per step), packed into as few lanes as fit.
///
/// Every element from the log is escaped; each bar and mark carries a `<title>` (the
/// browser's tooltip) and `data-` attributes that tests and scripts read.
struct AuditTimeline {
    let instance: AuditReport.InstanceReport

    static let width = 1_100.0
    static let left = 92.0
    static let right = 1_080.0
    static let bandTop = 26.0
    static let bandHeight = 36.0
    static let tokensTop = 74.0
    static let rowHeight = 20.0
    static let maxChallengeLanes = 10

    var from: Int64 { instance.window.from }
    var to: Int64 { instance.window.to }

    func x(_ t: Int64) -> Double {
        let fraction = Double(t - from) / Double(to - from)
        return Self.left + min(1, max(0, fraction)) * (Self.right - Self.left)
    }

    /// Height of a token's lane: roomy for a few, squeezed to about 480 units for many.
    var laneHeight: Double {
        let n = Double(max(instance.bars.count, 1))
        return n <= 24 ? 20 : max(2, min(20, 480 / n))
    }

    func draw(into out: inout String) {
        let lane = laneHeight
        let tokensBottom = Self.tokensTop + lane * Double(instance.bars.count)
        var y = tokensBottom + 12
        let instanceRow = y
        y += Self.rowHeight
        let blocks = instance.marks.filter {
            $0.kind == .loginsBlocked || $0.kind == .loginsUnblocked
        }
        let loginsRow = y
        if !blocks.isEmpty { y += Self.rowHeight }
        let (challenges, lanes) = challengeLanes()
        let challengesTop = y
        y += Self.rowHeight * Double(lanes)
        let height = y + 8
        let id = HTMLText.escape(instance.id.rawValue)
        out +=
            "<svg class=\"timeline\" viewBox=\"0 0 \(Int(Self.width)) \(Int(height.rounded(.up)))\" role=\"img\" "
            + "aria-label=\"timeline of instance \(id)\" data-bars=\"\(instance.bars.count)\">\n"
        axis(into: &out, bottom: height - 8)
        band(into: &out)
        tokens(into: &out, lane: lane)
        if let deleted = instance.deletedAt, deleted >= from, deleted <= to {
            out +=
                "<line class=\"deleted-line\" x1=\"\(x(deleted).svg)\" x2=\"\(x(deleted).svg)\" y1=\"\(Self.tokensTop - 4)\" y2=\"\((height - 8).svg)\"/>\n"
        }
        out +=
            "<text class=\"lane\" x=\"\(Self.left - 8)\" y=\"\((instanceRow + 14).svg)\" text-anchor=\"end\">instance</text>\n"
        for mark in instance.marks where Self.instanceKinds.contains(mark.kind) {
            self.mark(mark, y: instanceRow + 10, into: &out)
        }
        if !blocks.isEmpty {
            out +=
                "<text class=\"lane\" x=\"\(Self.left - 8)\" y=\"\((loginsRow + 14).svg)\" text-anchor=\"end\">logins</text>\n"
            for block in blocks where block.kind == .loginsBlocked {
                let until = block.until ?? block.at
                out +=
                    "<rect class=\"block\" x=\"\(x(block.at).svg)\" y=\"\((loginsRow + 4).svg)\" width=\"\(max(1.5, x(until) - x(block.at)).svg)\" height=\"12\"/>\n"
            }
            for block in blocks { mark(block, y: loginsRow + 10, into: &out) }
        }
        if !challenges.isEmpty {
            out +=
                "<text class=\"lane\" x=\"\(Self.left - 8)\" y=\"\((challengesTop + 14).svg)\" text-anchor=\"end\">challenges</text>\n"
        }
        for (lane, steps) in challenges {
            let cy = challengesTop + Double(lane) * Self.rowHeight + 10
            let first = steps.first!.at
            let last = steps.last!.at
            out +=
                "<g class=\"challenge\" data-challenge=\"\(HTMLText.escape(steps[0].challenge!.rawValue))\">"
                + "<line class=\"challenge-line\" x1=\"\(x(first).svg)\" x2=\"\(max(x(last), x(first) + 1).svg)\" y1=\"\(cy.svg)\" y2=\"\(cy.svg)\"/>\n"
            for step in steps { mark(step, y: cy, into: &out) }
            out += "</g>\n"
        }
        out += "</svg>\n"
    }

    // MARK: Axis and band

    static let steps: [Int64] = [
        1, 5, 15, 30, 60, 300, 900, 1_800, 3_600, 10_800, 21_600, 43_200, 86_400, 172_800,
        604_800, 1_209_600, 2_592_000, 7_776_000, 31_536_000,
    ].map { $0 * 1_000_000 }

    func axis(into out: inout String, bottom: Double) {
        let span = to - from
        let step: Int64 = Self.steps.first(where: { span / $0 <= 8 }) ?? Self.steps.last!
        var t = (from / step + (from % step > 0 ? 1 : 0)) * step
        var lastDay: Int64?
        while t <= to {
            let text = LogTool.formatTime(t)
            let day = AuditReport.day(t)
            var label: String
            if step >= 86_400_000_000 {
                label = String(text.prefix(10))
            } else {
                let clock =
                    step < 60_000_000 ? text.dropFirst(11).prefix(8) : text.dropFirst(11).prefix(5)
                label =
                    day == lastDay
                    ? String(clock) : String(text.dropFirst(5).prefix(5)) + " " + clock
            }
            lastDay = day
            if label.isEmpty { label = text }
            out +=
                "<line class=\"grid\" x1=\"\(x(t).svg)\" x2=\"\(x(t).svg)\" y1=\"20\" y2=\"\(bottom.svg)\"/>"
                + "<text class=\"axis\" x=\"\(x(t).svg)\" y=\"14\" text-anchor=\"middle\">\(label)</text>\n"
            t += step
        }
        out +=
            "<line class=\"baseline\" x1=\"\(Self.left)\" x2=\"\(Self.right)\" y1=\"20\" y2=\"20\"/>\n"
    }

    func band(into out: inout String) {
        let peak = max(1, instance.live.max() ?? 0)
        let base = Self.bandTop + Self.bandHeight
        let buckets = Double(instance.live.count)
        var d = "M\(Self.left) \(base.svg)"
        for (i, n) in instance.live.enumerated() {
            let x0 = Self.left + Double(i) / buckets * (Self.right - Self.left)
            let x1 = Self.left + Double(i + 1) / buckets * (Self.right - Self.left)
            let y = base - Double(n) / Double(peak) * Self.bandHeight
            d += "L\(x0.svg) \(y.svg)L\(x1.svg) \(y.svg)"
        }
        d += "L\(Self.right) \(base.svg)Z"
        out +=
            "<g class=\"alive\" data-peak=\"\(peak)\"><title>tokens alive (all of them, sampled or not): at most \(HTMLText.count(peak)) at once</title>"
            + "<path class=\"band\" d=\"\(d)\"/></g>"
            + "<text class=\"lane\" x=\"\(Self.left - 8)\" y=\"\((Self.bandTop + 16).svg)\" text-anchor=\"end\">alive</text>"
            + "<text class=\"axis\" x=\"\(Self.left - 8)\" y=\"\((Self.bandTop + 30).svg)\" text-anchor=\"end\">max \(HTMLText.count(peak))</text>\n"
    }

    // MARK: Tokens

    func tokens(into out: inout String, lane: Double) {
        let barHeight = max(1.5, lane * 0.72)
        var laneOf = [UInt64: Int]()
        for (n, index) in instance.bars.enumerated() {
            laneOf[instance.tokens[index].serial.rawValue] = n
        }
        if instance.bars.count > 24 || lane < 12 {
            out +=
                "<text class=\"lane\" x=\"\(Self.left - 8)\" y=\"\((Self.tokensTop + 12).svg)\" text-anchor=\"end\">tokens</text>\n"
        }
        for (n, index) in instance.bars.enumerated() {
            let t = instance.tokens[index]
            let top = Self.tokensTop + Double(n) * lane + (lane - barHeight) / 2
            let end = instance.end(of: t)
            let x1 = x(t.createdAt)
            let x2 = max(x(min(end, to)), x1 + 1.5)
            let status = instance.status(of: t, at: to)
            var classes = "token scope-\(t.scope.name) \(status)"
            if t.refreshable { classes += " refreshable" }
            var parent = ""
            if case .token(let p) = t.origin { parent = " data-parent=\"\(p.rawValue)\"" }
            out +=
                "<g class=\"\(classes)\" data-serial=\"\(t.serial.rawValue)\"\(parent)><title>\(title(t))</title>"
                + "<rect class=\"scope-\(t.scope.name)\(t.refreshable && lane >= 6 ? " refreshable" : "")\" x=\"\(x1.svg)\" y=\"\(top.svg)\" width=\"\((x2 - x1).svg)\" height=\"\(barHeight.svg)\" rx=\"\(min(2, barHeight / 3).svg)\"/>"
            if end < t.expiry.rawValue, end <= to, lane >= 6 {
                let c = top + barHeight / 2
                let r = min(4, barHeight / 2 + 1)
                out +=
                    "<path class=\"revoked-cap\" d=\"M\((x2 - r).svg) \((c - r).svg)L\((x2 + r).svg) \((c + r).svg)M\((x2 + r).svg) \((c - r).svg)L\((x2 - r).svg) \((c + r).svg)\"/>"
            } else if end > to, lane >= 6 {
                let c = top + barHeight / 2
                out +=
                    "<path class=\"open-end\" d=\"M\(x2.svg) \((c - barHeight / 2).svg)L\((x2 + 6).svg) \(c.svg)L\(x2.svg) \((c + barHeight / 2).svg)Z\"/>"
            }
            if lane >= 12 {
                out +=
                    "<text class=\"serial\" x=\"\(Self.left - 8)\" y=\"\((top + barHeight - 3).svg)\" text-anchor=\"end\">\(t.serial.rawValue)</text>"
            }
            out += "</g>\n"
        }
        // Lineage: from the parent's lane, where the child was minted, down to the child.
        for (n, index) in instance.bars.enumerated() {
            let child = instance.tokens[index]
            guard case .token(let parent) = child.origin, let p = laneOf[parent.rawValue] else {
                continue
            }
            let cx = x(child.createdAt)
            let y1 = Self.tokensTop + (Double(p) + 0.5) * lane
            let y2 = Self.tokensTop + Double(n) * lane + (lane - barHeight) / 2
            out +=
                "<path class=\"lineage\" data-parent=\"\(parent.rawValue)\" data-child=\"\(child.serial.rawValue)\" d=\"M\(cx.svg) \(y1.svg)V\(y2.svg)\">"
                + "<title>token \(child.serial.rawValue) minted by refreshing token \(parent.rawValue)</title></path>"
            if lane >= 6 {
                out +=
                    "<circle class=\"lineage-dot\" cx=\"\(cx.svg)\" cy=\"\(y1.svg)\" r=\"2.2\"/>"
                    + "<path class=\"lineage-head\" d=\"M\((cx - 3).svg) \((y2 - 4).svg)L\((cx + 3).svg) \((y2 - 4).svg)L\(cx.svg) \(y2.svg)Z\"/>"
            }
            out += "\n"
        }
    }

    func title(_ t: TokenRecord) -> String {
        var text = "token \(t.serial.rawValue) · \(t.tokenScope.wireName)"
        if let d = t.description { text += " · “" + HTMLText.escape(d) + "”" }
        text += "\nissued \(HTMLText.time(t.createdAt))"
        switch t.origin {
        case .token(let parent): text += " by refreshing token \(parent.rawValue)"
        case .password(let basic):
            text += basic ? " with the password (Basic)" : " with the password (Bearer)"
        }
        text += "\nexpires " + (EventJSON.expiration(t.expiry).map(HTMLText.time) ?? "never")
        if let revoked = t.revokedAt { text += "\nrevoked \(HTMLText.time(revoked))" }
        if let deleted = instance.deletedAt, deleted < min(t.revokedAt ?? .max, t.expiry.rawValue) {
            text += "\nended with its instance \(HTMLText.time(deleted))"
        }
        return text
    }

    // MARK: Marks

    static let instanceKinds: Set<AuditReport.Mark.Kind> = [
        .instanceCreated, .detailsUpdated, .credentialsChanged, .addressValidated,
        .instanceDeleted, .backendCredential,
    ]

    /// Each challenge's steps, and the lane it goes in; and how many lanes.
    func challengeLanes() -> ([(lane: Int, steps: [AuditReport.Mark])], Int) {
        var order = [ChallengeID]()
        var steps = [ChallengeID: [AuditReport.Mark]]()
        for mark in instance.marks {
            guard let id = mark.challenge else { continue }
            if steps[id] == nil { order.append(id) }
            steps[id, default: []].append(mark)
        }
        let gap = (to - from) / 100
        var laneEnds = [Int64]()
        var out = [(lane: Int, steps: [AuditReport.Mark])]()
        for id in order {
            let s = steps[id]!
            let start = s.first!.at
            var lane = laneEnds.firstIndex { $0 + gap < start }
            if lane == nil {
                if laneEnds.count < Self.maxChallengeLanes {
                    laneEnds.append(.min)
                    lane = laneEnds.count - 1
                } else {
                    lane = laneEnds.indices.min { laneEnds[$0] < laneEnds[$1] }
                }
            }
            laneEnds[lane!] = max(laneEnds[lane!], s.last!.at)
            out.append((lane!, s))
        }
        return (out, laneEnds.count)
    }

    func mark(_ mark: AuditReport.Mark, y: Double, into out: inout String) {
        var attributes = "data-kind=\"\(mark.kind.rawValue)\" data-sequence=\"\(mark.sequence)\""
        if let c = mark.challenge {
            attributes += " data-challenge=\"\(HTMLText.escape(c.rawValue))\""
        }
        out +=
            "<g class=\"mark \(mark.kind.rawValue)\" \(attributes) transform=\"translate(\(x(mark.at).svg) \(y.svg))\">"
            + "<title>\(HTMLText.time(mark.at)) · \(HTMLText.escape(mark.text)) (record \(mark.sequence))</title>"
            + Self.shape(mark.kind) + "</g>\n"
    }

    /// A mark's shape, centred on (0, 0), about 10 units across.
    static func shape(_ kind: AuditReport.Mark.Kind) -> String {
        switch kind {
        case .challengeCreated: "<circle class=\"mk-created\" r=\"4\"/>"
        case .challengeSent: "<path class=\"mk-sent\" d=\"M-4 -4.5L5 0L-4 4.5Z\"/>"
        case .attemptFailed: "<path class=\"mk-failed\" d=\"M-4 -4L4 4M4 -4L-4 4\"/>"
        case .challengeSolved: "<circle class=\"mk-solved\" r=\"4.5\"/>"
        case .challengeConsumed:
            "<rect class=\"mk-consumed\" x=\"-4\" y=\"-4\" width=\"8\" height=\"8\"/>"
        case .challengeExpired:
            "<rect class=\"mk-expired\" x=\"-4\" y=\"-4\" width=\"8\" height=\"8\"/>"
        case .credentialsChanged:
            "<path class=\"mk-credentials\" d=\"M0 -5.5L5.5 0L0 5.5L-5.5 0Z\"/>"
        case .detailsUpdated: "<path class=\"mk-details\" d=\"M0 -5L5 0L0 5L-5 0Z\"/>"
        case .addressValidated: "<circle class=\"mk-validated\" r=\"3.5\"/>"
        case .instanceCreated: "<path class=\"mk-instance\" d=\"M-5 4.5L0 -5L5 4.5Z\"/>"
        case .instanceDeleted: "<path class=\"mk-deleted\" d=\"M-5 -4.5L0 5L5 -4.5Z\"/>"
        case .loginsBlocked:
            "<rect class=\"mk-blocked\" x=\"-2\" y=\"-6\" width=\"4\" height=\"12\"/>"
        case .loginsUnblocked:
            "<rect class=\"mk-unblocked\" x=\"-2\" y=\"-6\" width=\"4\" height=\"12\"/>"
        case .backendCredential: "<path class=\"mk-backend\" d=\"M0 -5L5 0L0 5L-5 0Z\"/>"
        }
    }

    /// The marks the legend explains, in its order.
    static let legendMarks: [(AuditReport.Mark.Kind, String)] = [
        (.challengeCreated, "challenge created"), (.challengeSent, "code sent"),
        (.attemptFailed, "wrong code"), (.challengeSolved, "solved"), (.challengeConsumed, "used"),
        (.challengeExpired, "expired"), (.credentialsChanged, "credentials changed"),
        (.detailsUpdated, "details changed"), (.addressValidated, "address validated"),
        (.instanceCreated, "instance created"), (.instanceDeleted, "instance deleted"),
        (.loginsBlocked, "logins blocked"), (.loginsUnblocked, "block ended"),
    ]
}
