/// The bytes a decoder has been given but not yet consumed.
///
/// Consuming only moves `readIndex`; the consumed prefix is dropped in `append` when the buffer is
/// empty or when the prefix is at least half of the storage, so pipelined messages never cost a
/// `removeFirst` each and compaction stays amortised O(1) per byte.
struct InputBuffer: Sendable {
    var bytes: [UInt8] = []
    var readIndex = 0

    var readableCount: Int { bytes.count - readIndex }
    var isEmpty: Bool { readIndex == bytes.count }

    mutating func append(_ new: UnsafeRawBufferPointer) {
        guard !new.isEmpty else { return }
        compact()
        bytes.append(contentsOf: new)
    }

    mutating func append(_ new: [UInt8]) {
        guard !new.isEmpty else { return }
        compact()
        bytes.append(contentsOf: new)
    }

    /// Copies `count` readable bytes out and consumes them.
    mutating func take(_ count: Int) -> [UInt8] {
        let chunk = Array(bytes[readIndex..<readIndex + count])
        readIndex += count
        return chunk
    }

    private mutating func compact() {
        guard readIndex > 0 else { return }
        if readIndex == bytes.count {
            bytes.removeAll(keepingCapacity: true)
            readIndex = 0
        } else if readIndex >= 4096 && readIndex * 2 >= bytes.count {
            bytes.removeSubrange(0..<readIndex)
            readIndex = 0
        }
    }
}
