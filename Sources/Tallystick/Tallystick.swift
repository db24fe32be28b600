import ArgumentParser
import EventLog
import EventLogPostgres
import Foundation

@main
struct Tallystick: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tallystick",
        abstract: "An event-sourced login-token service for GNU Taler merchant backends.",
        discussion: """
            Serves the Taler merchant auth API (login tokens, instances) from an event log in
            LMDB. With no subcommand it runs `serve`.
              tallystick                                  # serve on 127.0.0.1:9966
              tallystick serve --port 8080 --data-dir /var/lib/tallystick
              echo 'new secret' | tallystick passwd shop1 # on LMDB: while no server runs
              tallystick status                           # verify the log
            """,
        subcommands: [
            Serve.self, Passwd.self, Status.self, BackendCredentialCommand.self,
            UpstreamCommand.self,
        ],
        defaultSubcommand: Serve.self)
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open the event log, verify it, and print its head.",
        discussion: """
            It reads the server's settings (data-dir, map sizes) as `serve` does; the log is
            created when missing.
              tallystick status --data-dir eventlog/data
              tallystick status --config /etc/tallystick.conf

            """ + ServerSettings.helpText)

    @OptionGroup var options: SettingsOptions

    func run() async throws {
        let settings = try options.resolve().settings
        let report: VerificationReport
        let place: String
        if let url = settings.postgres {
            let log = try await PostgresEventLog.open(url: url)
            do {
                report = try await log.verify()
            } catch {
                await log.close()
                throw error
            }
            await log.close()
            place = (try? PostgresLocation(url).description) ?? "PostgreSQL"
        } else {
            let log = try settings.openLog(needsServerStopped: true)
            report = try log.verify()
            await log.close()
            place = settings.dataDirectory
        }
        print("event log:   \(place)")
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
