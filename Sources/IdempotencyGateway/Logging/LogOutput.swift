// Where log lines go, and the timestamp they carry.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A destination for complete log lines (without the trailing newline).
public struct LogOutput: Sendable {
    /// Receives one formatted record.
    public let emit: @Sendable (String) -> Void

    /// An output calling `write` for every record.
    public init(write: @escaping @Sendable (String) -> Void) {
        self.emit = write
    }

    /// Standard error, one `write(2)` per line so concurrent records never interleave.
    public static let standardError = LogOutput { line in writeLine(line, to: 2) }

    /// Standard output, one `write(2)` per line.
    public static let standardOutput = LogOutput { line in writeLine(line, to: 1) }

    private static func writeLine(_ line: String, to descriptor: Int32) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return  // nowhere left to report a failing log destination
                }
            }
        }
    }
}

/// RFC 3339 UTC timestamps with millisecond precision: `2025-01-31T12:34:56.789Z`.
enum LogTimestamp {
    static func now() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = time_t(spec.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String { String(value).leftPadded(to: width) }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))"
            + "T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))"
            + ".\(pad(Int32(spec.tv_nsec / 1_000_000), 3))Z"
    }
}
