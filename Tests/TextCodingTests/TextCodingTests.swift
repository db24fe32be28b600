import Testing

@testable import TextCoding

@Suite("Hex")
struct HexTests {
    @Test func roundTripsAndReadsEitherCase() {
        let bytes: [UInt8] = [0x00, 0x0F, 0xA5, 0xFF, 0x10]
        #expect(Hex.encode(bytes) == "000fa5ff10")
        #expect(Hex.decode("000fa5ff10") == bytes)
        #expect(Hex.decode("000FA5FF10") == bytes)
        #expect(Hex.decode("") == [])
    }

    @Test("malformed hex is nil", arguments: ["0", "0g", "zz", " 00", "00 ", "-1"])
    func malformed(_ text: String) {
        #expect(Hex.decode(text) == nil)
    }
}

@Suite("JSON writer")
struct JSONWriterTests {
    @Test func escapesQuotesBackslashesAndControlCharacters() {
        var out: [UInt8] = []
        JSONWriter.quote("a\"b\\c\nd\re\tf\u{0}\u{1F}ä☕", into: &out)
        #expect(String(decoding: out, as: UTF8.self) == #""a\"b\\c\nd\re\tf\u0000\u001fä☕""#)
    }

    @Test("integers without String", arguments: [0, 7, -7, 10, 1_000_000, Int64.max, Int64.min])
    func integers(_ value: Int64) {
        var out: [UInt8] = []
        JSONWriter.integer(value, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == String(value))
    }

    @Test func streamingPlacesCommas() {
        var w = JSONWriter()
        w.beginObject()
        w.key("a")
        w.beginArray()
        w.integer(1)
        w.string("x")
        w.bool(false)
        w.null()
        w.endArray()
        w.key("b")
        w.value(.object([(key: "c", value: .number("1.5"))]))
        w.endObject()
        #expect(
            String(decoding: w.bytes, as: UTF8.self) == #"{"a":[1,"x",false,null],"b":{"c":1.5}}"#)
    }

    @Test func membersOfAnObjectKeepTheirOrder() {
        let text = JSONWriter.object { w in
            w.string("z", "1")
            w.number("y", Int?.none)
            w.bool("x", true)
            w.object("w") { inner in inner.number("v", 2) }
            w.raw("u", "[]")
            w.number(dynamic: "t\"", 3)
        }
        #expect(text == #"{"z":"1","y":null,"x":true,"w":{"v":2},"u":[],"t\"":3}"#)
    }

    @Test func timestampsRoundDownAndNever() {
        #expect(TalerTimestamp(micros: 1_999_999).seconds == 1)
        #expect(TalerTimestamp(micros: -1).seconds == -1)
        var w = JSONWriter()
        TalerTimestamp.never.write(into: &w)
        TalerTimestamp(seconds: 5).write(into: &w)
        #expect(String(decoding: w.bytes, as: UTF8.self) == #"{"t_s":"never"},{"t_s":5}"#)
        var out: [UInt8] = []
        TalerTimestamp(seconds: 5).append(into: &out)
        TalerTimestamp.never.append(into: &out)
        #expect(String(decoding: out, as: UTF8.self) == #"{"t_s":5}{"t_s":"never"}"#)
    }
}

@Suite("JSON reader")
struct JSONValueTests {
    @Test func writtenTextReadsBack() throws {
        let value = JSONValue.object([
            (key: "s", value: .string("a\"\n☕")), (key: "n", value: .number("-12")),
            (key: "a", value: .array([.bool(true), .null])),
        ])
        var w = JSONWriter()
        w.value(value)
        #expect(try JSONValue.parse(w.bytes) == value)
        #expect(
            try JSONValue.parse(Array(#"{"n":18446744073709551615}"#.utf8))["n"]?
                .unsignedInteger == UInt64.max)
        #expect(try JSONValue.parse(Array(#"{"n":-1}"#.utf8))["n"]?.unsignedInteger == nil)
        #expect(try JSONValue.parse(Array(#"{"n":1.0}"#.utf8))["n"]?.integer == nil)
    }
}
