import EventLogTestSupport
import Foundation
import Testing

/// Spec §10.6 on the real executables, each started through `/bin/sh` with its own umask:
/// what `tallystick serve` and `tallystick-log backup` create is their owner's alone whatever
/// the umask, and `serve` refuses a data directory that others can write.
@Suite("Live file modes")
struct LiveFileModeTests {
    static func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return try #require(attributes[.posixPermissions] as? Int)
    }

    /// Every directory under `root` (itself included) and every file, with its mode.
    static func modes(under root: String) throws -> [String: Int] {
        var out = [root: try mode(root)]
        let names = try #require(FileManager.default.subpathsOfDirectory(atPath: root) as [String]?)
        for name in names { out[root + "/" + name] = try mode(root + "/" + name) }
        return out
    }

    @Test(arguments: ["000", "077", "022"])
    func whatServeAndBackupCreateIsTheOwnersAlone(umask: String) async throws {
        let directory = try TemporaryDirectory(prefix: "live-modes")
        defer { directory.remove() }
        let data = directory.appending("data")
        let server = try LiveServerTests.Server.start(
            arguments: [
                "serve", "--port", "0", "--data-dir", data, "--log-level", "warning",
            ], environment: ["TALER_MERCHANT_PASSWORD": "live modes pw"], umask: umask)
        defer { server.killIfRunning() }
        #expect(server.stop() == 0)
        _ = server.takeLog()
        let backup = directory.appending("backups/one")
        let status = try LiveServerTests.run(
            ["backup", backup, "--data-dir", data], environment: [:], umask: umask,
            product: "tallystick-log")
        #expect(status == 0)
        for root in [data, backup] {
            let found = try Self.modes(under: root)
            #expect(found.count > 2)
            for (path, mode) in found {
                var isDirectory: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
                #expect(mode == (isDirectory.boolValue ? 0o700 : 0o600), "\(path) under \(umask)")
            }
        }
        #expect(FileManager.default.fileExists(atPath: data + "/tan.key"))
    }

    @Test func serveRefusesADirectoryOthersCanWriteAndWarnsWhenTheyCanRead() async throws {
        let directory = try TemporaryDirectory(prefix: "live-unsafe")
        defer { directory.remove() }
        let data = directory.appending("data")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: false)
        chmod(data, 0o775)
        let (status, said) = try LiveServerTests.runUntilListeningOrExit(
            ["serve", "--port", "0", "--data-dir", data],
            environment: ["TALER_MERCHANT_PASSWORD": "live unsafe pw"])
        #expect(status != 0)
        #expect(said.contains("\(data) (mode 0775)") && said.contains("chmod 700 \(data)"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: data).isEmpty)

        chmod(data, 0o750)
        let warned = try LiveServerTests.Server.start(
            arguments: ["serve", "--port", "0", "--data-dir", data, "--log-level", "warning"],
            environment: ["TALER_MERCHANT_PASSWORD": "live unsafe pw"])
        defer { warned.killIfRunning() }
        #expect(warned.stop() == 0)
        let log = warned.takeLog()
        let warnings = log.split(separator: "\n").filter { $0.contains("warning: group or others") }
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("\(data) (mode 0750); run: chmod 700 \(data)") == true)
        #expect(!log.contains("live unsafe pw"))
    }

    /// Servers sharing one store share `tan.key`, `merchant.key` and `backend-credentials`:
    /// `key-dir` puts them apart from the data directory.
    @Test func keyDirHoldsTheSharedKeysAndCredentials() async throws {
        let directory = try TemporaryDirectory(prefix: "live-keydir")
        defer { directory.remove() }
        let data = directory.appending("data")
        let keys = directory.appending("keys")
        let (set, output) = try LiveNginxTests.run(
            ["backend-credential", "set", "admin", "--data-dir", data, "--key-dir", keys],
            input: "merchant-backend-token")
        #expect(set != 0, "admin does not exist yet: \(output)")
        let server = try LiveServerTests.Server.start(
            arguments: [
                "serve", "--port", "0", "--data-dir", data, "--key-dir", keys,
                "--upstream", "http://127.0.0.1:1", "--log-level", "warning",
            ], environment: ["TALER_MERCHANT_PASSWORD": "live keydir pw"])
        defer { server.killIfRunning() }
        #expect(server.stop() == 0)
        _ = server.takeLog()
        let (stored, said) = try LiveNginxTests.run(
            ["backend-credential", "set", "admin", "--data-dir", data, "--key-dir", keys],
            input: "merchant-backend-token")
        #expect(stored == 0, "\(said)")
        let attributes = try FileManager.default.attributesOfItem(atPath: keys)
        #expect((attributes[.posixPermissions] as? Int) == 0o700)
        for name in ["tan.key", "merchant.key", "backend-credentials"] {
            #expect(FileManager.default.fileExists(atPath: keys + "/" + name), "\(name)")
            #expect(!FileManager.default.fileExists(atPath: data + "/" + name), "\(name)")
        }
    }
}
