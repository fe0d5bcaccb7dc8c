#if canImport(Glibc)
import Glibc
#endif

/// Counts this process's open TCP sockets whose local or remote port is one of `ports` (Linux: the socket
/// inodes of /proc/self/fd matched against /proc/net/tcp and /proc/net/tcp6).
///
/// Unlike ``openDescriptorCount()`` this is not disturbed by tests running in parallel on other ports, so a
/// test can demand exactly zero once its servers and clients are gone.
public func openTCPSocketCount(ports: Set<UInt16>) -> Int {
    let inodes = socketInodesOfThisProcess()
    var count = 0
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        guard let text = readWholeFile(table) else { continue }
        for line in text.split(separator: "\n").dropFirst() {
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            guard columns.count > 9, let inode = UInt64(columns[9]), inodes.contains(inode) else { continue }
            if let local = port(of: columns[1]), ports.contains(local) {
                count += 1
            } else if let remote = port(of: columns[2]), ports.contains(remote) {
                count += 1
            }
        }
    }
    return count
}

/// `0100007F:1F90` → 8080.
private func port(of column: Substring) -> UInt16? {
    guard let colon = column.lastIndex(of: ":") else { return nil }
    return UInt16(column[column.index(after: colon)...], radix: 16)
}

private func socketInodesOfThisProcess() -> Set<UInt64> {
    guard let dir = opendir("/proc/self/fd") else { return [] }
    defer { closedir(dir) }
    var inodes = Set<UInt64>()
    var target = [CChar](repeating: 0, count: 256)
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard name.first?.isNumber == true else { continue }
        let length = readlink("/proc/self/fd/\(name)", &target, target.count - 1)
        guard length > 0 else { continue }
        let link = String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // "socket:[12345]"
        guard link.hasPrefix("socket:["), link.hasSuffix("]") else { continue }
        if let inode = UInt64(link.dropFirst("socket:[".count).dropLast()) { inodes.insert(inode) }
    }
    return inodes
}

private func readWholeFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = read(fd, &buffer, buffer.count)
        if count <= 0 { break }
        bytes += buffer[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}
