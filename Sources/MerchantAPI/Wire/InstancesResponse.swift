import TextCoding
import TokenDomain

/// `GET /management/instances`'s answer: `{"instances": [{id, name, deleted, auth}...]}`.
struct InstancesResponse: WireResponse {
    var instances: [InstanceState]

    func write(to w: inout JSONWriter) {
        w.beginObject()
        w.key("instances")
        w.beginArray()
        for state in instances {
            w.beginObject()
            w.key("id")
            w.string(state.id.rawValue)
            w.key("name")
            w.string(state.name)
            w.key("deleted")
            w.bool(!state.isActive)
            w.key("auth")
            w.beginObject()
            w.key("method")
            w.string(state.auth.method)
            w.endObject()
            w.endObject()
        }
        w.endArray()
        w.endObject()
    }
}
