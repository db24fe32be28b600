import Foundation
import Testing

@testable import TokenDomain

/// `docs/merchant-endpoints.md` is the rendering of ``MerchantEndpoint/table``
/// (``MerchantEndpoint/markdownDocument``): the same pattern as the README's settings table.
@Suite("The merchant endpoint docs")
struct MerchantEndpointDocsTests {
    static let docsFile = "docs/merchant-endpoints.md"

    static func repositoryRoot() -> URL {
        var directory = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { directory.deleteLastPathComponent() }
        return directory
    }

    /// With TALLYSTICK_REGENERATE_DOCS=1 this writes the rendering into the file instead.
    @Test func theDocsShowExactlyTheTable() throws {
        let file = Self.repositoryRoot().appendingPathComponent(Self.docsFile)
        if ProcessInfo.processInfo.environment["TALLYSTICK_REGENERATE_DOCS"] == "1" {
            try FileManager.default.createDirectory(
                at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try MerchantEndpoint.markdownDocument.write(to: file, atomically: true, encoding: .utf8)
            return
        }
        let current = try String(contentsOf: file, encoding: .utf8)
        #expect(current == MerchantEndpoint.markdownDocument)
    }

    @Test func theRenderingHasARowPerEndpointAndTheFallbacks() {
        let lines = MerchantEndpoint.markdownDocument.split(separator: "\n")
        let rows = lines.filter { $0.hasPrefix("| ") && !$0.hasPrefix("| method ") }
        #expect(rows.count == MerchantEndpoint.table.count + 2)
        #expect(
            rows.contains {
                $0.contains("`[/instances/{id}]/private/pos`") && $0.contains("order-pos")
            })
        #expect(
            rows.contains {
                $0.hasPrefix(
                    "| POST | `[/instances/{id}]/private/accounts/{h_wire}/kycauth` | `accounts-read` | readonly,"
                )
            })
        #expect(rows.last?.contains("public, no backend credential") == true)
    }
}
