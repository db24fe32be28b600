import ArgumentParser
import EventLog
import Foundation

@main
struct Tallystick: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tallystick",
        abstract: "An event-sourced login-token service for GNU Taler merchant backends.",
        discussion: """
            The HTTP server arrives with the merchant-API work; today this command opens the
            event log (creating it when the data directory is new), checks it end to end and
            reports where it stands.
              tallystick status
              tallystick status --data-dir /var/lib/tallystick
            """,
        subcommands: [Status.self],
        defaultSubcommand: Status.self)
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open the event log, verify it, and print its head.",
        discussion: "Example: tallystick status --data-dir eventlog/data")

    @Option(help: "Directory of the event log (created when missing).")
    var dataDir = "eventlog/data"

    func run() async throws {
        let log: LMDBEventLog
        do {
            log = try LMDBEventLog.open(LMDBEventLog.Configuration(directory: dataDir))
        } catch {
            throw ValidationError("cannot open the event log in \(dataDir): \(error)")
        }
        let report = try log.verify()
        await log.close()
        print("event log:   \(dataDir)")
        print("records:     \(report.records) in \(report.streams) streams")
        print("head:        \(report.head.sequence) \(report.head.hash.hex)")
        print("checkpoints: \(report.checkpoints)")
        if let failure = report.failure {
            print("verify:      FAILED at \(failure)")
            throw ExitCode(1)
        }
        print("verify:      ok")
    }
}
