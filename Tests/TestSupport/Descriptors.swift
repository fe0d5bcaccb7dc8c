#if canImport(Glibc)
import Glibc
#endif

/// Counts this process's open file descriptors (Linux: entries of /proc/self/fd).
public func openDescriptorCount() -> Int {
    guard let dir = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(dir) }
    var count = 0
    while readdir(dir) != nil { count += 1 }
    return count - 3  // ".", ".." and the directory stream itself
}
