import Foundation
import HTTPTypes
import Synchronization
import TextCoding

/// What the stand-in merchant keeps when it plays `taler-merchant-httpd`'s instance and
/// token management (spec §9, instances on both sides): instances with their passwords and
/// fields, and the tokens minted from them. Enough of the real backend's rules for
/// Tallystick's merchant side to be tested against: `admin` exists from the start, creation
/// needs an `admin` token (`409` with code 2600 on a second create with other data), minting
/// needs the instance's password in HTTP Basic (`401`, 2015 otherwise), a password change
/// ends the instance's tokens, and every other `/instances/$I/private/...` request needs a
/// token of `$I`.
///
/// ``refuse(_:_:status:code:)`` makes the next matching request fail, for the failure rules.
final class MerchantModel: Sendable {
    struct Instance: Sendable {
        var password: String
        /// Every member of the creation body but `id` and `auth`, as sent (or patched).
        var fields: [(key: String, value: JSONValue)]
        var deleted = false
    }

    /// One answer: status and JSON body.
    struct Answer: Sendable {
        var status: Int
        var body: String
    }

    private struct State {
        var instances: [String: Instance]
        /// Token secret (after `secret-token:`) → instance id.
        var tokens: [String: String] = [:]
        /// `METHOD path-prefix` → the answer the next matching request gets instead.
        var refusals: [(method: String, prefix: String, answer: Answer)] = []
        var configRequests = 0
        var creations = 0
    }

    private let state: Mutex<State>

    init(adminPassword: String) {
        state = Mutex(State(instances: ["admin": Instance(password: adminPassword, fields: [])]))
    }

    /// The instance `id` as the merchant has it now.
    func instance(_ id: String) -> Instance? { state.withLock { $0.instances[id] } }

    /// Every instance id the merchant has (deleted ones included), sorted.
    var instanceIDs: [String] { state.withLock { $0.instances.keys.sorted() } }

    /// How many instances were created (a repeated creation with the same data is not one).
    var creations: Int { state.withLock { $0.creations } }

    /// How many `GET /config` requests came.
    var configRequests: Int { state.withLock { $0.configRequests } }

    /// Whether `token` (with or without `secret-token:`) is a live token of `id`.
    func accepts(_ token: String, for id: String) -> Bool {
        let secret = token.replacingOccurrences(of: "secret-token:", with: "")
        return state.withLock { $0.tokens[secret] == id }
    }

    /// The next `method` request whose path starts with `prefix` is answered with `status`
    /// and a Taler error of `code` (and changes nothing).
    func refuse(_ method: String, _ prefix: String, status: Int, code: Int) {
        state.withLock {
            $0.refusals.append(
                (
                    method, prefix,
                    Answer(status: status, body: #"{"code":\#(code),"hint":"refused by the test"}"#)
                ))
        }
    }

    /// The answer to a request, or `nil` when it is not one the model handles (the stand-in
    /// then records it and answers as a plain merchant endpoint).
    func answer(method: String, path: String, headers: HTTPFields, body: String) -> Answer? {
        let (route, query) = Self.split(path)
        let segments = route.split(separator: "/").map(String.init)
        let authorization = headers[.authorization] ?? ""
        return state.withLock { s -> Answer? in
            if let index = s.refusals.firstIndex(where: {
                $0.method == method && route.hasPrefix($0.prefix)
            }) {
                return s.refusals.remove(at: index).answer
            }
            let id = Self.instance(in: segments)
            switch (method, Self.shape(segments)) {
            case ("GET", "config"):
                s.configRequests += 1
                return Answer(
                    status: 200,
                    body:
                        #"{"name":"taler-merchant","version":"20:0:8","currency":"CHF","exchanges":[{"base_url":"https://exchange.example/"}],"mandatory_tan_channels":["sms"],"have_donau":false}"#
                )
            case ("POST", "management/instances"):
                guard Self.tokenOwner(authorization, s) == "admin" else { return Self.unauthorized }
                return Self.create(body, &s)
            case ("PATCH", "management/instances/$I"):
                guard Self.tokenOwner(authorization, s) == "admin" else { return Self.unauthorized }
                guard var instance = s.instances[id], !instance.deleted else { return Self.unknown }
                guard case .object(let members)? = try? JSONValue.parse(Array(body.utf8)) else {
                    return Answer(status: 400, body: #"{"code":22,"hint":"not JSON"}"#)
                }
                instance.fields = members.filter { $0.key != "id" && $0.key != "auth" }
                s.instances[id] = instance
                return Answer(status: 204, body: "")
            case ("DELETE", "management/instances/$I"):
                guard Self.tokenOwner(authorization, s) == "admin" else { return Self.unauthorized }
                guard let instance = s.instances[id] else { return Self.unknown }
                if query.contains("purge=yes") {
                    s.instances[id] = nil
                } else {
                    guard !instance.deleted else { return Self.unknown }
                    s.instances[id]?.deleted = true
                }
                s.tokens = s.tokens.filter { $0.value != id }
                return Answer(status: 204, body: "")
            case ("POST", "instances/$I/private/token"):
                guard let instance = s.instances[id], !instance.deleted,
                    authorization == Self.basic(id, instance.password)
                else { return Self.unauthorized }
                let secret = UUID().uuidString + UUID().uuidString
                s.tokens[secret] = id
                return Answer(
                    status: 200,
                    body:
                        #"{"access_token":"secret-token:\#(secret)","token":"secret-token:\#(secret)","scope":"all","refreshable":false,"expiration":{"t_s":"never"}}"#
                )
            case ("GET", "instances/$I/private"):
                guard Self.tokenOwner(authorization, s) == id, let instance = s.instances[id]
                else { return Self.unauthorized }
                var w = JSONWriter()
                w.value(
                    .object(
                        instance.fields + [
                            ("auth", .object([("method", .string("token"))])),
                            ("merchant_pub", .string("M3RCH4NTPUB")),
                        ]))
                return Answer(status: 200, body: String(decoding: w.bytes, as: UTF8.self))
            case ("POST", "instances/$I/private/auth"):
                guard Self.tokenOwner(authorization, s) == id,
                    case .string(let password)? = (try? JSONValue.parse(Array(body.utf8)))?[
                        "password"]
                else { return Self.unauthorized }
                s.instances[id]?.password = password
                s.tokens = s.tokens.filter { $0.value != id }
                return Answer(status: 204, body: "")
            default:
                // Any other endpoint of an instance: only with one of its tokens.
                if segments.count >= 3, segments[0] == "instances", segments[2] == "private" {
                    guard Self.tokenOwner(authorization, s) == id else { return Self.unauthorized }
                }
                return nil
            }
        }
    }

    private static func create(_ body: String, _ s: inout State) -> Answer {
        guard case .object(let members)? = try? JSONValue.parse(Array(body.utf8)),
            case .string(let id)? = JSONValue.object(members)["id"],
            case .string(let password)? = JSONValue.object(members)["auth"]?["password"]
        else { return Answer(status: 400, body: #"{"code":26,"hint":"malformed"}"#) }
        guard case .string? = JSONValue.object(members)["name"],
            JSONValue.object(members)["address"] != nil
        else {
            return Answer(status: 400, body: #"{"code":25,"hint":"missing parameter: address"}"#)
        }
        let fields = members.filter { $0.key != "id" && $0.key != "auth" }
        if let existing = s.instances[id] {
            let same =
                existing.password == password
                && JSONValue.object(existing.fields) == JSONValue.object(fields)
            return same
                ? Answer(status: 204, body: "")
                : Answer(status: 409, body: #"{"code":2600,"hint":"instance exists"}"#)
        }
        s.instances[id] = Instance(password: password, fields: fields)
        s.creations += 1
        return Answer(status: 204, body: "")
    }

    static func basic(_ id: String, _ password: String) -> String {
        "Basic " + Data("\(id):\(password)".utf8).base64EncodedString()
    }

    private static func tokenOwner(_ authorization: String, _ s: State) -> String? {
        guard authorization.hasPrefix("Bearer secret-token:") else { return nil }
        return s.tokens[String(authorization.dropFirst("Bearer secret-token:".count))]
    }

    /// The path with its instance id (the segment after `instances`) written `$I`.
    private static func shape(_ segments: [String]) -> String {
        var out = segments
        if let index = segments.firstIndex(of: "instances"), index + 1 < segments.count {
            out[index + 1] = "$I"
        }
        return out.joined(separator: "/")
    }

    /// The segment after `instances`, or "".
    private static func instance(in segments: [String]) -> String {
        guard let index = segments.firstIndex(of: "instances"), index + 1 < segments.count
        else { return "" }
        return segments[index + 1]
    }

    private static func split(_ path: String) -> (String, String) {
        guard let mark = path.firstIndex(of: "?") else { return (path, "") }
        return (String(path[..<mark]), String(path[path.index(after: mark)...]))
    }

    static let unauthorized = Answer(status: 401, body: #"{"code":2015,"hint":"unauthorized"}"#)
    static let unknown = Answer(status: 404, body: #"{"code":2000,"hint":"unknown instance"}"#)
}
