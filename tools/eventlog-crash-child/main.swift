// eventlog-crash-child DIR SEED
//
// Appends to the durable log in DIR from 8 concurrent tasks, forever, and prints one line
// per append *after* it returned: "OK <stream> <first-sequence> <count> <first-event-id>".
// The crash test kills this process with SIGKILL at random moments and then checks that
// every reported append is in the log and the chain verifies.
import EventLog

#if canImport(Glibc)
    import Glibc
#endif

let arguments = CommandLine.arguments
guard arguments.count == 3, let seed = UInt64(arguments[2]) else {
    FileHandleLine.write("usage: eventlog-crash-child DIR SEED\n", to: 2)
    exit(2)
}

/// Writes whole lines with one `write` each, unbuffered, so a line is either out or not.
enum FileHandleLine {
    static func write(_ text: String, to fd: Int32) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes {
                Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset)
            }
            if n <= 0 { exit(3) }
            offset += n
        }
    }
}

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

let log: LMDBEventLog
do {
    var configuration = LMDBEventLog.Configuration(directory: arguments[1])
    configuration.initialMapSize = 1 << 20  // small, so the crash also hits map growth
    log = try LMDBEventLog.open(configuration)
} catch {
    FileHandleLine.write("open failed: \(error)\n", to: 2)
    exit(1)
}

await withTaskGroup(of: Void.self) { group in
    for task in 0..<8 {
        group.addTask {
            var random = SplitMix(state: seed &* 31 &+ UInt64(task))
            let stream = "crash-\(task)"
            while true {
                let count = Int.random(in: 1...5, using: &random)
                let size = Int.random(in: 10...2_000, using: &random)
                let events = (0..<count).map { _ in
                    ProposedEvent(
                        type: "crash-test.v1", payload: [UInt8](repeating: UInt8(task), count: size)
                    )
                }
                do {
                    let result = try await log.append(to: stream, expecting: .any, events: events)
                    FileHandleLine.write(
                        "OK \(stream) \(result.positions[0].sequence) \(count) \(events[0].id)\n",
                        to: 1)
                } catch {
                    FileHandleLine.write("append failed: \(error)\n", to: 2)
                    exit(1)
                }
            }
        }
    }
}
