import Foundation
import Logging

/// The server's log handler: one line per event on standard error,
/// `time level label: message key=value ...`, metadata sorted by key.
///
/// Unlike swift-log's `StreamLogHandler`, setting metadata only stores it (Hummingbird sets a
/// request id on every request's logger); formatting happens only for lines actually written.
struct ServerLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        var line = "\(Date().formatted(.iso8601)) \(event.level) \(label): \(event.message)"
        for (key, value) in all.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(value)"
        }
        line += "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
