// `HOST:PORT` listen addresses and `http://host:port/base` upstream URLs.

/// A `HOST:PORT` pair as written in `listen` and `admin.listen`; IPv6 hosts are bracketed: `[::1]:8080`.
public struct HostPort: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The host name or IP literal, without brackets (`127.0.0.1`, `::1`, `localhost`).
    public var host: String
    /// The TCP port; `0` asks the kernel for a free port.
    public var port: UInt16

    /// Creates an address from its parts.
    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// The phrase used in error messages.
    public static let expectation = "expected HOST:PORT like 127.0.0.1:8080 or [::1]:8080"

    /// Parses `HOST:PORT` (or `[IPv6]:PORT`), or returns `nil`. With a `defaultPort`, `HOST` alone is accepted.
    public init?(parsing text: String, defaultPort: UInt16? = nil) {
        let input = text.trimmingWhitespace()
        let hostPart: Substring
        let portPart: Substring?
        if input.hasPrefix("[") {
            guard let close = input.firstIndex(of: "]") else { return nil }
            hostPart = input[input.index(after: input.startIndex)..<close]
            let rest = input[input.index(after: close)...]
            if rest.isEmpty {
                portPart = nil
            } else {
                guard rest.hasPrefix(":") else { return nil }
                portPart = rest.dropFirst()
            }
            guard hostPart.contains(":"), hostPart.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                return nil
            }
        } else if let colon = input.lastIndex(of: ":") {
            hostPart = input[..<colon]
            portPart = input[input.index(after: colon)...]
            guard !hostPart.contains(":") else { return nil }  // an unbracketed IPv6 literal is ambiguous
        } else {
            hostPart = Substring(input)
            portPart = nil
        }
        guard !hostPart.isEmpty,
            hostPart.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-.:_".contains($0)) })
        else { return nil }
        let port: UInt16
        if let portPart {
            guard !portPart.isEmpty, portPart.allSatisfy({ $0.isASCII && $0.isNumber }), let value = UInt16(portPart)
            else { return nil }
            port = value
        } else if let defaultPort {
            port = defaultPort
        } else {
            return nil
        }
        self.init(host: String(hostPart), port: port)
    }

    /// `true` for `localhost`, `127.0.0.0/8` and `::1`: addresses only this machine can reach.
    public var isLoopback: Bool {
        let lowered = host.lowercased()
        if lowered == "localhost" || lowered == "::1" || lowered == "0:0:0:0:0:0:0:1" { return true }
        let octets = lowered.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// `host:port`, bracketing IPv6 literals.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// The upstream origin, from `upstream.url`: plain HTTP only (`http://host[:port][/base-path]`).
public struct UpstreamEndpoint: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// Host and port to connect to; the port defaults to 80.
    public var address: HostPort
    /// A path prefix prepended to every forwarded request target, without a trailing slash (`""` for none).
    public var basePath: String

    /// Creates an endpoint from its parts.
    public init(address: HostPort, basePath: String = "") {
        self.address = address
        self.basePath = basePath
    }

    /// Why `text` is not a usable upstream URL, or `nil` when it parses; see `init(parsing:)`.
    public static func problem(with text: String) -> String? {
        let lowered = text.lowercased()
        if lowered.hasPrefix("https://") {
            return "TLS is not supported; use an http:// upstream (terminate TLS in front of the gateway)"
        }
        guard lowered.hasPrefix("http://") else {
            return "expected an http:// URL like http://127.0.0.1:3000 or http://api.internal:8080/base"
        }
        return UpstreamEndpoint(parsing: text) == nil
            ? "expected an http:// URL like http://127.0.0.1:3000 or http://api.internal:8080/base (no user info, query or fragment)"
            : nil
    }

    /// Parses `http://host[:port][/base-path]`, or returns `nil` (https, user info, query and fragment are rejected).
    public init?(parsing text: String) {
        let input = text.trimmingWhitespace()
        guard input.lowercased().hasPrefix("http://") else { return nil }
        let rest = input.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        var path = String(rest[slash...])
        guard !authority.contains("@"), !path.contains("?"), !path.contains("#"), !path.contains(" ") else {
            return nil
        }
        guard let address = HostPort(parsing: String(authority), defaultPort: 80) else { return nil }
        while path.hasSuffix("/") { path.removeLast() }
        self.init(address: address, basePath: path)
    }

    /// The URL in canonical form: `http://host:port/base`.
    public var description: String { "http://\(address)\(basePath)" }
}
