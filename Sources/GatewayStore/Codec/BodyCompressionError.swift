import CZlib

/// Why ``BodyCompression`` failed: zlib's return codes mapped to named cases, plus the size limits.
public struct BodyCompressionError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// `Z_DATA_ERROR`, a truncated stream or trailing bytes: the input is not a valid stream.
        case corruptData
        /// The stream would inflate to more than the allowed size.
        case outputTooLarge
        /// `Z_MEM_ERROR`.
        case noMemory
        /// `Z_STREAM_ERROR`, `Z_VERSION_ERROR`, `Z_BUF_ERROR` or another unexpected code: a usage problem.
        case internalError
    }

    public var kind: Kind
    /// zlib's return code, when zlib produced the error.
    public var zlibCode: Int32?
    public var message: String

    public init(kind: Kind, zlibCode: Int32? = nil, message: String) {
        self.kind = kind
        self.zlibCode = zlibCode
        self.message = message
    }

    init(zlibCode: Int32, message: UnsafeMutablePointer<CChar>?) {
        let text = message.map { String(cString: $0) } ?? String(cString: zError(zlibCode))
        let kind: Kind =
            switch zlibCode {
            case Z_DATA_ERROR, Z_NEED_DICT: .corruptData
            case Z_MEM_ERROR: .noMemory
            default: .internalError
            }
        self.init(kind: kind, zlibCode: zlibCode, message: text)
    }

    public var description: String {
        let code = zlibCode.map { " (zlib \($0))" } ?? ""
        return "compression: \(kind)\(code): \(message)"
    }
}
