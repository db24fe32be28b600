import EventLog
import Foundation
import PostgresNIO

/// Where a ``PostgresEventLog`` lives: the server, the role and the database, parsed from the
/// forms an operator writes.
///
/// Accepted forms:
/// - `postgres://USER@/DATABASE?host=/run/postgresql`: a UNIX socket in that directory
///   (the file `.s.PGSQL.PORT`, port 5432 unless `&port=N`); `postgresql://` is the same;
/// - `postgres://USER:PASSWORD@HOST:PORT/DATABASE`: TCP (`?sslmode=disable`, `prefer`, the
///   default, or `require`); percent-escapes are decoded in the user and password;
/// - `/run/postgresql` or `/run/postgresql/.s.PGSQL.5432`: a socket path alone, connecting as
///   the process's user to the database of that name (libpq's defaults).
///
/// A password is kept only to connect; ``description`` never shows it.
public struct PostgresLocation: Sendable, CustomStringConvertible {
    public enum Endpoint: Sendable, Equatable {
        case socket(path: String)
        case tcp(host: String, port: Int)
    }

    public var endpoint: Endpoint
    public var user: String
    public var password: String?
    public var database: String
    /// For TCP only: `disable`, `prefer` or `require`.
    public var sslMode: String

    /// Parses one of the forms above.
    /// - Throws: ``EventLogError/storage(_:)`` naming what is wrong with `text`.
    public init(_ text: String) throws {
        if text.hasPrefix("/") {
            var path = text
            if !path.split(separator: "/").last.map({ $0.hasPrefix(".s.PGSQL.") })! {
                path = (path.hasSuffix("/") ? path : path + "/") + ".s.PGSQL.5432"
            }
            let me = PostgresLocation.processUser
            self.init(endpoint: .socket(path: path), user: me, password: nil, database: me)
            return
        }
        guard let url = URLComponents(string: text),
            url.scheme == "postgres" || url.scheme == "postgresql"
        else {
            throw EventLogError.storage(
                "a PostgreSQL location is postgres://USER@/DB?host=/socket/dir, "
                    + "postgres://USER@HOST:PORT/DB or a socket path")
        }
        let query = Dictionary(
            (url.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        let user = url.user.flatMap { $0.removingPercentEncoding } ?? PostgresLocation.processUser
        let database = String(url.path.drop(while: { $0 == "/" }))
        let port = Int(query["port"] ?? "") ?? url.port ?? 5432
        let endpoint: Endpoint
        if let host = query["host"], host.hasPrefix("/") {
            endpoint = .socket(path: host + "/.s.PGSQL.\(port)")
        } else if let host = url.host, !host.isEmpty {
            endpoint = .tcp(host: host, port: port)
        } else {
            throw EventLogError.storage(
                "the PostgreSQL location names no host: add ?host=/socket/dir or a host name")
        }
        self.init(
            endpoint: endpoint, user: user, password: url.password?.removingPercentEncoding,
            database: database.isEmpty ? user : database)
        sslMode = query["sslmode"] ?? "prefer"
        guard ["disable", "prefer", "require"].contains(sslMode) else {
            throw EventLogError.storage("sslmode must be disable, prefer or require")
        }
    }

    public init(endpoint: Endpoint, user: String, password: String?, database: String) {
        self.endpoint = endpoint
        self.user = user
        self.password = password
        self.database = database
        self.sslMode = "prefer"
    }

    public var description: String {
        switch endpoint {
        case .socket(let path): "postgres://\(user)@/\(database) (socket \(path))"
        case .tcp(let host, let port): "postgres://\(user)@\(host):\(port)/\(database)"
        }
    }

    /// The client configuration for PostgresNIO.
    var clientConfiguration: PostgresClient.Configuration {
        switch endpoint {
        case .socket(let path):
            return PostgresClient.Configuration(
                unixSocketPath: path, username: user, password: password, database: database)
        case .tcp(let host, let port):
            let tls: PostgresClient.Configuration.TLS =
                switch sslMode {
                case "disable": .disable
                case "require": .require(.makeClientConfiguration())
                default: .prefer(.makeClientConfiguration())
                }
            return PostgresClient.Configuration(
                host: host, port: port, username: user, password: password, database: database,
                tls: tls)
        }
    }

    private static var processUser: String {
        if let pw = getpwuid(getuid()), let name = pw.pointee.pw_name {
            return String(cString: name)
        }
        return ProcessInfo.processInfo.environment["USER"] ?? "postgres"
    }
}
