import EventLogTestSupport
import Foundation
import Testing

@testable import EventLog

/// A child process appends in a loop and reports each append after it returned; it is killed
/// with SIGKILL at a random point; the log must reopen, verify, and hold every reported append.
@Suite("Crash safety")
struct CrashSafetyTests {
    /// The helper is built beside the test bundle by `swift build --build-tests`.
    func childExecutable() throws -> URL {
        let me = URL(
            fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(
                atPath: "/proc/self/exe"))
        let child = me.deletingLastPathComponent().appendingPathComponent("eventlog-crash-child")
        guard FileManager.default.isExecutableFile(atPath: child.path) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: child.path])
        }
        return child
    }

    struct Reported {
        var stream: String
        var sequence: UInt64
        var count: Int
        var id: String
    }

    @Test func killedWriterLosesNothingItReported() throws {
        let child = try childExecutable()
        let dir = try TemporaryDirectory(prefix: "crash")
        defer { dir.remove() }
        let path = dir.appending("log")
        var everything = [Reported]()
        var generator = SystemRandomNumberGenerator()
        for round in 0..<10 {
            let killAfter = Int.random(in: 1...400, using: &generator)
            let process = Process()
            process.executableURL = child
            process.arguments = [
                path, String(UInt64.random(in: 0...UInt64.max, using: &generator)),
            ]
            let out = Pipe()
            let err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try process.run()
            var buffer = [UInt8]()
            var lines = 0
            var killed = false
            while true {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                buffer += chunk
                lines += chunk.filter { $0 == UInt8(ascii: "\n") }.count
                if !killed && lines >= killAfter {
                    // The child holds the writer lock: this process may not write too.
                    #expect(throws: EventLogError.lockedByAnotherProcess(path: path)) {
                        _ = try LMDBEventLog.open(LMDBEventLog.Configuration(directory: path))
                    }
                    kill(process.processIdentifier, SIGKILL)
                    killed = true
                }
            }
            process.waitUntilExit()
            let stderr = String(
                decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(
                process.terminationReason == .uncaughtSignal,
                "round \(round): child exited early: \(stderr)")
            let text = String(decoding: buffer, as: UTF8.self)
            for line in text.split(separator: "\n") where line.hasPrefix("OK ") {
                let f = line.split(separator: " ")
                guard f.count == 5, let seq = UInt64(f[2]), let count = Int(f[3]) else {
                    Issue.record("malformed line from the child: \(line)")
                    continue
                }
                everything.append(
                    Reported(stream: String(f[1]), sequence: seq, count: count, id: String(f[4])))
            }

            let log = try LMDBEventLog.openReadOnly(directory: path)
            let report = try log.verify()
            #expect(report.isValid, "round \(round): \(String(describing: report.failure))")
            let head = report.head.sequence
            for r in everything {
                #expect(
                    r.sequence + UInt64(r.count) - 1 <= head,
                    "round \(round): reported append \(r.sequence) lost")
                guard r.sequence + UInt64(r.count) - 1 <= head else { continue }
                let records = try log.read(from: r.sequence, limit: r.count)
                #expect(records.first?.eventID.description == r.id)
                #expect(records.allSatisfy { $0.stream == r.stream })
            }
            log.env.close()
        }
        #expect(everything.count >= 10)
    }
}
