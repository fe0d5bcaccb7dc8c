import Testing

@testable import GatewayStore

@Suite("BodyCompression")
struct BodyCompressionTests {
    @Test("round trip", arguments: [0, 1, 100, 1024, 200_000], [BodyCompression.Format.zlib, .rawDeflate])
    func roundTrip(size: Int, format: BodyCompression.Format) throws {
        for body in [compressibleBody(size), randomBody(size)] {
            let compressed = try BodyCompression.compress(body, format: format)
            #expect(try BodyCompression.decompress(compressed, expectedSize: body.count, format: format) == body)
        }
    }

    @Test("compressible data shrinks; zlib format has its header")
    func shrinks() throws {
        let body = compressibleBody(100_000)
        let compressed = try BodyCompression.compress(body)
        #expect(compressed.count < 2_000)
        #expect(compressed.first == 0x78)
    }

    @Test("a damaged stream is rejected")
    func corrupt() throws {
        let body = compressibleBody(10_000)
        var compressed = try BodyCompression.compress(body)
        compressed[compressed.count / 2] ^= 0xFF
        #expect(throws: BodyCompressionError.self) { try BodyCompression.decompress(compressed, expectedSize: body.count) }

        // A flipped bit in the data is caught by the Adler-32 trailer if nowhere else.
        var checksum = try BodyCompression.compress(body)
        checksum[checksum.count - 1] ^= 0x01
        #expect(throws: BodyCompressionError.self) { try BodyCompression.decompress(checksum, expectedSize: body.count) }

        let garbage: [UInt8] = [0x00, 0x01, 0x02, 0x03]
        let error = #expect(throws: BodyCompressionError.self) { try BodyCompression.decompress(garbage, expectedSize: 10) }
        #expect(error?.kind == .corruptData)
    }

    @Test("a truncated stream or trailing bytes are rejected")
    func truncated() throws {
        let body = compressibleBody(10_000)
        let compressed = try BodyCompression.compress(body)
        #expect(throws: BodyCompressionError.self) {
            try BodyCompression.decompress(Array(compressed.dropLast(5)), expectedSize: body.count)
        }
        #expect(throws: BodyCompressionError.self) {
            try BodyCompression.decompress(compressed + [0], expectedSize: body.count)
        }
    }

    @Test("output is bounded by the expected size (a zip bomb costs nothing)")
    func bounded() throws {
        let bomb = try BodyCompression.compress([UInt8](repeating: 0, count: 20_000_000))
        #expect(bomb.count < 50_000)
        let error = #expect(throws: BodyCompressionError.self) { try BodyCompression.decompress(bomb, expectedSize: 1_000) }
        #expect(error?.kind == .outputTooLarge)
        // Shorter than declared is corrupt too.
        let short = #expect(throws: BodyCompressionError.self) {
            try BodyCompression.decompress(bomb, expectedSize: 30_000_000)
        }
        #expect(short?.kind == .corruptData)
        #expect(throws: BodyCompressionError.self) { try BodyCompression.decompress(bomb, expectedSize: -1) }
    }
}
