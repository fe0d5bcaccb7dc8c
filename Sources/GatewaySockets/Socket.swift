import CEventPoll
#if canImport(Glibc)
import Glibc
#endif

/// A socket descriptor and the non-blocking system calls on it. A plain value: ownership (who closes it) is
/// the job of ``AsyncSocket`` and ``Listener``.
public struct Socket: Sendable, Hashable {
    public let descriptor: Int32

    public init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// A non-blocking, close-on-exec TCP socket for `address`'s family.
    public static func makeTCP(for address: SocketAddress) throws(SocketError) -> Socket {
        let family = address.isIPv6 ? AF_INET6 : AF_INET
        let fd = Glibc.socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .failed("socket") }
        return Socket(descriptor: fd)
    }

    /// A listening socket bound to `address` with `SO_REUSEADDR` (IPv6 sockets are IPv6-only).
    public static func listen(on address: SocketAddress, backlog: Int32 = 1024) throws(SocketError) -> Socket {
        let socket = try makeTCP(for: address)
        do throws(SocketError) {
            try socket.setOption(SOL_SOCKET, SO_REUSEADDR, 1)
            if address.isIPv6 { try socket.setOption(Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1) }
            let rc = address.withSockAddr { Glibc.bind(socket.descriptor, $0, $1) }
            // The address in the message: "bind to 127.0.0.1:9090 failed: Address already in use".
            guard rc == 0 else { throw SocketError.system(operation: "bind to \(address)", errno: errno) }
            guard Glibc.listen(socket.descriptor, backlog) == 0 else {
                throw SocketError.system(operation: "listen on \(address)", errno: errno)
            }
            return socket
        } catch {
            socket.close()
            throw error
        }
    }

    /// Accepts one pending connection as a non-blocking socket, or `.wouldBlock`.
    public func accept() throws(SocketError) -> IOResult<(Socket, SocketAddress?)> {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = try withUnsafeMutablePointer(to: &storage) { pointer throws(SocketError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(SocketError) in
                try syscall("accept") { Glibc.accept(descriptor, address, &length) }
            }
        }
        guard case .done(let fd) = result else { return .wouldBlock }
        // accept4(2) is not exported by the Glibc module; set the flags the portable way.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let peer = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress(sockaddr: $0) }
        }
        return .done((Socket(descriptor: fd), peer))
    }

    /// Starts a non-blocking connect. `.wouldBlock` means "in progress": wait for writability, then
    /// check ``pendingError()``.
    public func connect(to address: SocketAddress) throws(SocketError) -> IOResult<Void> {
        let result = try syscall("connect") { address.withSockAddr { Glibc.connect(descriptor, $0, $1) } }
        if case .done = result { return .done(()) }
        return .wouldBlock
    }

    /// `SO_ERROR`: the result of an asynchronous connect.
    public func pendingError() -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &value, &length) == 0 else { return errno }
        return value
    }

    /// Reads up to `count` bytes into `buffer`. `.done(0)` means the peer closed.
    public func read(into buffer: UnsafeMutableRawPointer, count: Int) throws(SocketError) -> IOResult<Int> {
        try syscall("recv") { cep_recv(descriptor, buffer, count, 0) }
    }

    /// Writes up to `count` bytes. `MSG_NOSIGNAL`: a closed peer gives EPIPE, never SIGPIPE.
    public func write(_ buffer: UnsafeRawPointer, count: Int) throws(SocketError) -> IOResult<Int> {
        try syscall("send") { cep_send(descriptor, buffer, count, Int32(MSG_NOSIGNAL)) }
    }

    public func setOption(_ level: Int32, _ name: Int32, _ value: Int32) throws(SocketError) {
        var value = value
        guard setsockopt(descriptor, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw .failed("setsockopt")
        }
    }

    /// Disables Nagle's algorithm (responses are written whole; latency matters more than packet count).
    public func setNoDelay() {
        try? setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
    }

    /// Makes `close()` reset the connection instead of ending it with a FIN (`SO_LINGER` on, 0 s): for a message
    /// that ends at the close (a close-delimited body, RFC 9112 §6.3 rule 8), a FIN would look like its end.
    public func setResetOnClose() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    }

    /// The local address (after `bind`, the port the kernel chose for port 0).
    public func localAddress() -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getsockname(descriptor, $0, &length) == 0 ? SocketAddress(sockaddr: $0) : nil
            }
        }
    }

    /// Shuts down the sending side (a FIN after the last response), keeping the descriptor open.
    public func shutdownWrite() {
        _ = Glibc.shutdown(descriptor, Int32(SHUT_WR))
    }

    public func close() {
        _ = Glibc.close(descriptor)
    }
}
