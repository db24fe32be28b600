import Foundation
import Testing

@testable import MerchantAPI

/// `openapi/merchant-auth-api.yaml` describes exactly the routes the public router serves, and
/// `openapi/internal-api.yaml` exactly those of the internal listener.
@Suite("OpenAPI document")
struct OpenAPIDocumentTests {
    /// The `METHOD /path` pairs under `paths:` in the committed document `name` (two-space path
    /// keys, four-space method keys, as the documents are laid out).
    static func documentedRoutes(_ name: String = "merchant-auth-api.yaml") throws -> Set<String> {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        let text = try String(
            contentsOf: root.appendingPathComponent("openapi/\(name)"), encoding: .utf8)
        var routes = Set<String>()
        var inPaths = false
        var path: String?
        for line in text.split(separator: "\n") {
            if line == "paths:" {
                inPaths = true
                continue
            }
            guard inPaths else { continue }
            if !line.hasPrefix(" ") { break }
            if line.hasPrefix("  /"), !line.hasPrefix("   "), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":"),
                let path
            {
                let method = line.trimmingCharacters(in: .whitespaces).dropLast()
                if ["get", "post", "put", "patch", "delete", "head", "options"].contains(method) {
                    routes.insert("\(method.uppercased()) \(path)")
                }
            }
        }
        return routes
    }

    @Test func everyServedRouteIsDocumentedAndNothingElse() async throws {
        let h = try await APIHarness()
        let served = Set(h.api.routes.map(\.description))
        let documented = try Self.documentedRoutes()
        #expect(served.subtracting(documented).isEmpty, "served but not documented")
        #expect(documented.subtracting(served).isEmpty, "documented but not served")
        #expect(served.count == 30)
    }

    @Test func everyInternalRouteIsDocumentedAndNoneIsPublic() async throws {
        let h = try await APIHarness()
        let served = Set(h.api.internalRoutes.map(\.description))
        #expect(served == (try Self.documentedRoutes("internal-api.yaml")))
        #expect(served.contains("GET /metrics"))
        #expect(served.isDisjoint(with: Set(h.api.routes.map(\.description))))
    }
}
