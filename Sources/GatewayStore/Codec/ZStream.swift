import CZlib

/// A heap-pinned `z_stream` for one deflate or inflate run.
///
/// "zlib expects the z_stream pointer to stay the same over the whole process" (compress-nio `Zlib.swift`): zlib's
/// internal state keeps a back pointer to the stream, so the stream cannot live in a movable Swift value. It is
/// allocated once here and `deinit` calls `deflateEnd`/`inflateEnd` and frees it.
final class ZStream {
    enum Kind { case deflate, inflate }

    let kind: Kind
    let pointer: UnsafeMutablePointer<z_stream>

    /// - Parameter windowBits: 15 = zlib format (2-byte header + Adler-32 trailer); -15 = raw deflate.
    init(kind: Kind, windowBits: Int32, level: Int32 = Z_DEFAULT_COMPRESSION) throws(BodyCompressionError) {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        // zalloc/zfree/opaque must be Z_NULL "to use default allocation functions" — a zeroed struct does that.
        stream.initialize(to: z_stream())
        let code: Int32
        switch kind {
        case .deflate:
            code = czlib_deflateInit2(stream, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY)
        case .inflate:
            code = czlib_inflateInit2(stream, windowBits)
        }
        guard code == Z_OK else {
            // Init failed, so there is no zlib state to end, only our allocation to free. Nothing is assigned to
            // `self` yet, so `deinit` will not run.
            let error = BodyCompressionError(zlibCode: code, message: stream.pointee.msg)
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw error
        }
        self.kind = kind
        self.pointer = stream
    }

    deinit {
        switch kind {
        case .deflate: deflateEnd(pointer)
        case .inflate: inflateEnd(pointer)
        }
        pointer.deinitialize(count: 1)
        pointer.deallocate()
    }
}
