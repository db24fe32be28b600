import EventLog
import EventLogTestSupport
import Foundation
import Testing
import TokenDomain

@testable import TokenEngine

/// Spec §9: backend credentials live in a `0600` file of the data directory; the log records
/// only their fingerprints; one counts only while the log vouches for it.
@Suite("Backend credentials")
struct BackendCredentialTests {
    static let secret = "MERCHANT-BACKEND-SECRET-1234567890"

    @Test func setRecordsTheFingerprintOnlyAndRemoveEndsIt() async throws {
        let directory = try TemporaryDirectory(prefix: "backend")
        defer { directory.remove() }
        let h = try await EngineHarness(.lmdb) { c in
            c.backendCredentials = try! BackendCredentialStore(directory: directory.path)
        }
        try await h.makeInstance()
        #expect(h.engine.backendCredential(for: .shop) == nil)
        try await h.engine.setBackendCredential(instance: .shop, secret: Self.secret)
        #expect(h.engine.backendCredential(for: .shop) == Self.secret)
        let fingerprint = BackendCredentialStore.fingerprint(of: Self.secret)
        #expect(h.engine.instance(.shop)?.backendCredential == fingerprint)
        // The same again: no event.
        let before = try await h.log.head().sequence
        try await h.engine.setBackendCredential(instance: .shop, secret: Self.secret)
        #expect(try await h.log.head().sequence == before)
        // The file: 0600, the secret; the log: the fingerprint, never the secret.
        let file = directory.appending(BackendCredentialStore.fileName)
        let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions]
        #expect(mode as? Int == 0o600)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "shop \(Self.secret)\n")
        for record in try await h.log.readAll() {
            #expect(!String(decoding: record.payload, as: UTF8.self).contains(Self.secret))
        }
        // A new store of the same directory reads it back.
        let reopened = try BackendCredentialStore(directory: directory.path)
        #expect(reopened.secret(for: .shop) == Self.secret)
        try await h.engine.removeBackendCredential(instance: .shop)
        #expect(h.engine.backendCredential(for: .shop) == nil)
        #expect(h.engine.instance(.shop)?.backendCredential == nil)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "")
        let types = try await h.log.readAll().map(\.type)
        #expect(types.suffix(2) == ["backend-credential-set.v1", "backend-credential-removed.v1"])
        await h.finish()
    }

    @Test func aSecretTheLogDoesNotVouchForIsNotHandedOut() async throws {
        let store = BackendCredentialStore()
        let h = try await EngineHarness(.memory) { $0.backendCredentials = store }
        try await h.makeInstance()
        // In the file but not in the log (a crash between them, or an edit by hand).
        try store.update(.shop, to: "EDITED-BY-HAND")
        #expect(h.engine.backendCredential(for: .shop) == nil)
        #expect(h.engine.backendCredentialWarnings().count == 1)
        try await h.engine.setBackendCredential(instance: .shop, secret: Self.secret)
        #expect(h.engine.backendCredentialWarnings() == [])
        // The file changed behind the log's back.
        try store.update(.shop, to: "ROTATED-WITHOUT-THE-LOG")
        #expect(h.engine.backendCredential(for: .shop) == nil)
        #expect(h.engine.backendCredentialWarnings().first?.contains("shop") == true)
        #expect(h.engine.backendCredentialWarnings().allSatisfy { !$0.contains("ROTATED") })
        await h.finish()
    }

    @Test func unusableSecretsAndInstancesAreRefused() async throws {
        let h = try await EngineHarness(.memory)
        try await h.makeInstance()
        for bad in ["", "has space", "new\nline", String(repeating: "x", count: 513)] {
            await #expect(throws: EngineError.self) {
                try await h.engine.setBackendCredential(instance: .shop, secret: bad)
            }
        }
        let unknown = await #expect(throws: EngineError.self) {
            try await h.engine.setBackendCredential(
                instance: InstanceID("nobody")!, secret: Self.secret)
        }
        #expect(unknown?.code == .merchantGenericInstanceUnknown)
        await h.finish()
    }

    @Test func aFileOthersCanReadOrThatIsMalformedStopsTheStore() throws {
        let directory = try TemporaryDirectory(prefix: "backend-file")
        defer { directory.remove() }
        let file = directory.appending(BackendCredentialStore.fileName)
        try "shop SECRET\n".write(toFile: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        #expect(throws: BackendCredentialStore.Failure.self) {
            try BackendCredentialStore(directory: directory.path)
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        #expect(
            try BackendCredentialStore(directory: directory.path).secret(for: .shop) == "SECRET")
        try "shop\n".write(toFile: file, atomically: false, encoding: .utf8)
        #expect {
            try BackendCredentialStore(directory: directory.path)
        } throws: { error in
            "\(error)".contains(":1: expected INSTANCE SECRET") && !"\(error)".contains("SECRET\n")
        }
    }
}
