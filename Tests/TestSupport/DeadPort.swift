import GatewaySockets

#if canImport(Glibc)
import Glibc
#endif

/// A loopback port where nothing listens, held for as long as this value lives: the socket is bound but never
/// listens, so a connection is refused and no other test (running in parallel) can be given the same port. A port
/// that was bound and closed again could be handed to the next listener, and a "dead" upstream would then answer.
public final class DeadPort: Sendable {
    /// `127.0.0.1:<port>`.
    public let address: SocketAddress
    private let descriptor: Int32

    public init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(descriptor >= 0, "socket() failed: errno \(errno)")
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(descriptor, raw, length) == 0 && getsockname(descriptor, raw, &length) == 0
            }
        }
        precondition(bound, "bind() failed: errno \(errno)")
        self.descriptor = descriptor
        self.address = try SocketAddress(ip: "127.0.0.1", port: UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }
}
