import Foundation
import Testing
import TokenEngine

@testable import Tallystick

@Suite("Secret key files")
struct SecretKeyFileTests {
    /// The tools read `tree-head.key` by ``TreeHeadSigner/keyFileName``; the server writes it
    /// as ``SecretKeyFile/treeHead``.
    @Test func theTreeHeadKeyHasOneName() {
        #expect(SecretKeyFile.treeHead.rawValue == TreeHeadSigner.keyFileName)
    }

    @Test func theTreeHeadKeyIsMadeOnceOwnerOnlyAndSigns() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "keys-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let made = try SecretKeyFile.loadOrCreate(.treeHead, in: directory)
        #expect(try SecretKeyFile.loadOrCreate(.treeHead, in: directory) == made)
        let path = directory + "/" + TreeHeadSigner.keyFileName
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]
        #expect((mode as? NSNumber)?.intValue == 0o600)
        let signer = try TreeHeadSigner(rawKey: made)
        // The description names the key id, never the key.
        #expect(!"\(signer)".contains(made.map { String(format: "%02x", $0) }.joined()))
        #expect(signer.publicKeyHex.count == 64)
    }
}
