#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 socket address.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// The numeric host (`127.0.0.1`, `::1`).
    public let host: String
    public let port: UInt16
    /// True for IPv6.
    public let isIPv6: Bool

    /// A numeric address. Host names are resolved with ``resolve(host:port:)``.
    public init(ip host: String, port: UInt16) throws(SocketError) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            self.isIPv6 = false
        } else if inet_pton(AF_INET6, host, &v6) == 1 {
            self.isIPv6 = true
        } else {
            throw .badAddress("'\(host)' is not a numeric IPv4 or IPv6 address")
        }
        self.host = host
        self.port = port
    }

    /// Resolves a host name (or numeric address) with `getaddrinfo`; prefers the first result.
    /// Blocking: call it at configuration time, not on a request path.
    public static func resolve(host: String, port: UInt16) throws(SocketError) -> SocketAddress {
        let unbracketed = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if let numeric = try? SocketAddress(ip: unbracketed, port: port) { return numeric }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(unbracketed, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw .badAddress("cannot resolve '\(host)': \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        guard let address = SocketAddress(sockaddr: first.pointee.ai_addr) else {
            throw .badAddress("cannot resolve '\(host)': unsupported address family")
        }
        return address
    }

    /// Reads a `sockaddr_in` / `sockaddr_in6`.
    public init?(sockaddr pointer: UnsafePointer<sockaddr>) {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(pointer.pointee.sa_family) {
        case AF_INET:
            let value = UnsafeRawPointer(pointer).loadUnaligned(as: sockaddr_in.self)
            var addr = value.sin_addr
            inet_ntop(AF_INET, &addr, &buffer, socklen_t(buffer.count))
            self.host = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            self.port = UInt16(bigEndian: value.sin_port)
            self.isIPv6 = false
        case AF_INET6:
            let value = UnsafeRawPointer(pointer).loadUnaligned(as: sockaddr_in6.self)
            var addr = value.sin6_addr
            inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count))
            self.host = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            self.port = UInt16(bigEndian: value.sin6_port)
            self.isIPv6 = true
        default:
            return nil
        }
    }

    /// `127.0.0.1:8080` or `[::1]:8080`.
    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Calls `body` with this address as a `sockaddr`.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        if isIPv6 {
            var value = sockaddr_in6()
            value.sin6_family = sa_family_t(AF_INET6)
            value.sin6_port = port.bigEndian
            inet_pton(AF_INET6, host, &value.sin6_addr)
            return withUnsafePointer(to: &value) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            var value = sockaddr_in()
            value.sin_family = sa_family_t(AF_INET)
            value.sin_port = port.bigEndian
            inet_pton(AF_INET, host, &value.sin_addr)
            return withUnsafePointer(to: &value) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }
}
