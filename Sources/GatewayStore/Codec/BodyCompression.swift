import CZlib

/// Whole-buffer zlib compression for stored response bodies.
///
/// Format: the zlib format of RFC 1950 (a two-byte header, raw deflate data, an Adler-32 checksum of the output),
/// i.e. `windowBits` 15. The checksum means a damaged blob is detected rather than replayed as garbage. Raw deflate
/// (RFC 1951, no header or checksum) is available through ``Format/rawDeflate`` for callers that store their own
/// checksum.
///
/// Decompression is bounded: the caller passes the size it expects (the store keeps each body's length), and a
/// stream that would inflate past it fails with ``BodyCompressionError/Kind/outputTooLarge`` without allocating
/// more — a hostile "zip bomb" costs at most `maxSize` bytes.
public enum BodyCompression {
    public enum Format: Sendable {
        /// RFC 1950 zlib: header + deflate + Adler-32.
        case zlib
        /// RFC 1951 raw deflate.
        case rawDeflate

        var windowBits: Int32 {
            switch self {
            case .zlib: 15
            case .rawDeflate: -15
            }
        }
    }

    /// Compresses `bytes` in one call.
    /// - Parameter level: zlib level 0…9, or -1 for zlib's default (6).
    public static func compress(
        _ bytes: [UInt8], format: Format = .zlib, level: Int32 = -1
    ) throws(BodyCompressionError) -> [UInt8] {
        guard bytes.count <= Int(UInt32.max) / 2 else {
            throw BodyCompressionError(kind: .internalError, message: "input of \(bytes.count) bytes is too large")
        }
        let stream = try ZStream(kind: .deflate, windowBits: format.windowBits, level: level)
        // "deflateBound() returns an upper bound on the compressed size after deflation of sourceLen bytes"; with an
        // output that big, a single deflate(Z_FINISH) "must return Z_STREAM_END".
        let bound = Int(deflateBound(stream.pointer, uLong(bytes.count)))
        var output = [UInt8](repeating: 0, count: bound)
        var input = bytes
        let (code, produced) = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                let z = stream.pointer
                z.pointee.next_in = inBuffer.baseAddress
                z.pointee.avail_in = uInt(inBuffer.count)
                z.pointee.next_out = outBuffer.baseAddress
                z.pointee.avail_out = uInt(outBuffer.count)
                let code = deflate(z, Z_FINISH)
                z.pointee.next_in = nil
                z.pointee.next_out = nil
                return (code, outBuffer.count - Int(z.pointee.avail_out))
            }
        }
        guard code == Z_STREAM_END else {
            throw BodyCompressionError(zlibCode: code, message: stream.pointer.pointee.msg)
        }
        output.removeSubrange(produced...)
        return output
    }

    /// Decompresses `bytes`, which must inflate to exactly `expectedSize` bytes.
    ///
    /// - Throws: ``BodyCompressionError`` with `.corruptData` for an invalid or truncated stream, a checksum
    ///   mismatch, trailing bytes or a size other than `expectedSize`; `.outputTooLarge` when the data would
    ///   inflate past `expectedSize`.
    public static func decompress(
        _ bytes: [UInt8], expectedSize: Int, format: Format = .zlib
    ) throws(BodyCompressionError) -> [UInt8] {
        guard expectedSize >= 0, expectedSize < Int(UInt32.max) - 1, bytes.count < Int(UInt32.max) else {
            throw BodyCompressionError(kind: .outputTooLarge, message: "expected size \(expectedSize) out of range")
        }
        let stream = try ZStream(kind: .inflate, windowBits: format.windowBits)
        // One spare byte: a stream longer than expected then fills it and is caught, instead of stopping exactly at
        // the end of the buffer where "too long" and "just right but trailer unread" look alike.
        var output = [UInt8](repeating: 0, count: expectedSize + 1)
        var input = bytes
        let (code, produced, unread) = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                let z = stream.pointer
                z.pointee.next_in = inBuffer.baseAddress
                z.pointee.avail_in = uInt(inBuffer.count)
                z.pointee.next_out = outBuffer.baseAddress
                z.pointee.avail_out = uInt(outBuffer.count)
                // "inflate() should normally be called until it returns Z_STREAM_END or an error. However if all
                // decompression is to be performed in a single step (a single call of inflate), the parameter flush
                // should be set to Z_FINISH." A Z_BUF_ERROR then means the output (or the input) ran out.
                let code = inflate(z, Z_FINISH)
                z.pointee.next_in = nil
                z.pointee.next_out = nil
                return (code, outBuffer.count - Int(z.pointee.avail_out), Int(z.pointee.avail_in))
            }
        }
        switch code {
        case Z_STREAM_END:
            guard produced == expectedSize else {
                throw BodyCompressionError(
                    kind: .corruptData, message: "inflated to \(produced) bytes, expected \(expectedSize)")
            }
            guard unread == 0 else {
                throw BodyCompressionError(kind: .corruptData, message: "\(unread) bytes after the end of the stream")
            }
            output.removeLast()
            return output
        case Z_OK, Z_BUF_ERROR:
            if produced > expectedSize {
                throw BodyCompressionError(
                    kind: .outputTooLarge, message: "stream inflates past the expected \(expectedSize) bytes")
            }
            throw BodyCompressionError(kind: .corruptData, message: "truncated stream")
        default:
            throw BodyCompressionError(zlibCode: code, message: stream.pointer.pointee.msg)
        }
    }
}
