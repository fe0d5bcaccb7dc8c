import Testing

@testable import GatewayStore

@Suite("HeaderCodec")
struct HeaderCodecTests {
    @Test(
        "fields round-trip in order",
        arguments: [
            [],
            [StoredResponse.Field(name: "Content-Type", value: "application/json")],
            [.init(name: "Empty", value: ""), .init(name: "", value: "")],
            [.init(name: "X-Ünïcødé", value: "日本語 ✓ 🎉"), .init(name: "Set-Cookie", value: "a=1"), .init(name: "Set-Cookie", value: "b=2")],
            [.init(name: "Long", value: String(repeating: "v", count: 70_000))],
            (0..<300).map { StoredResponse.Field(name: "X-\($0)", value: "\($0)") },
        ]
    )
    func roundTrip(fields: [StoredResponse.Field]) throws {
        let encoded = HeaderCodec.encode(fields)
        #expect(try HeaderCodec.decode(encoded) == fields)
    }

    @Test("the encoding is compact")
    func compact() {
        let encoded = HeaderCodec.encode([.init(name: "A", value: "bc")])
        #expect(encoded == [1, 1, 1, 0x41, 2, 0x62, 0x63])
    }

    @Test(
        "malformed blocks are rejected",
        arguments: [
            [],  // nothing
            [2, 0],  // unknown format
            [1, 1, 5, 0x41],  // name length past the end
            [1, 200, 1, 1],  // count larger than the bytes could hold
            [1, 1, 1, 0x41, 1, 0xFF],  // invalid UTF-8
            [1, 0, 0],  // trailing byte
            [1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],  // varint overflow
        ] as [[UInt8]]
    )
    func malformed(bytes: [UInt8]) {
        #expect(throws: KeyStoreError.self) { try HeaderCodec.decode(bytes) }
    }

    @Test("varints use 7 bits per byte")
    func varint() {
        var out: [UInt8] = []
        HeaderCodec.appendVarint(300, to: &out)
        #expect(out == [0xAC, 0x02])
    }
}
