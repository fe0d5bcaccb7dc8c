#if canImport(Glibc)
import Glibc
#endif

/// One receive buffer per thread, reused by every read on that thread.
///
/// A read asks the kernel for up to ``AsyncSocket/readSize`` bytes and hands them to its consumer before it returns,
/// so the buffer is free again by the next read on the same thread. A fresh 64 KiB allocation per read would cost
/// a `malloc` and, on `free`, glibc's consolidation of its fast bins (chunks of 64 KiB and more trigger it).
enum ReadScratch {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        // The buffer is freed when its thread exits.
        let result = pthread_key_create(&key) { buffer in free(buffer) }
        precondition(result == 0, "pthread_key_create failed: \(result)")
        return key
    }()

    /// This thread's buffer of ``AsyncSocket/readSize`` bytes.
    static func buffer() -> UnsafeMutableRawBufferPointer {
        if let existing = pthread_getspecific(key) {
            return UnsafeMutableRawBufferPointer(start: existing, count: AsyncSocket.readSize)
        }
        guard let fresh = malloc(AsyncSocket.readSize) else { fatalError("out of memory for a read buffer") }
        pthread_setspecific(key, fresh)
        return UnsafeMutableRawBufferPointer(start: fresh, count: AsyncSocket.readSize)
    }
}
