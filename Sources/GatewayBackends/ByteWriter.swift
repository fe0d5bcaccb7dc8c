/// Writes bytes into an array sized up front, for the byte path's per-request messages: each piece is one bounds
/// check and one copy, without the uniqueness and growth checks `Array.append` makes on every call.
struct ByteWriter: ~Copyable {
    private let base: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    private(set) var count = 0

    private init(base: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    /// The bytes `body` writes, in an array of `capacity` bytes; writing more than `capacity` is a programming
    /// error (a trap, never an overrun).
    ///
    /// Up to ``scratchLimit`` the bytes are written into a temporary buffer (on the stack when it has room) and
    /// copied into an array of their exact size: `Array(unsafeUninitializedCapacity:)` is not specialised here
    /// and looks up its storage class's metadata at run time on every call, which costs more than the copy.
    static func bytes(capacity: Int, _ body: (inout ByteWriter) -> Void) -> [UInt8] {
        if capacity <= scratchLimit {
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
                var writer = ByteWriter(base: buffer.baseAddress!, capacity: capacity)
                body(&writer)
                return Array(UnsafeBufferPointer(start: buffer.baseAddress!, count: writer.count))
            }
        }
        return [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            var writer = ByteWriter(base: buffer.baseAddress!, capacity: capacity)
            body(&writer)
            count = writer.count
        }
    }

    /// The largest message written through a temporary buffer (a head and a small body).
    static let scratchLimit = 16 * 1024

    @inline(__always)
    mutating func write(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        precondition(bytes.count <= capacity - count, "ByteWriter: capacity exceeded")
        (base + count).update(from: source, count: bytes.count)
        count += bytes.count
    }

    /// The bytes of `bytes` in `range`.
    @inline(__always)
    mutating func write(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) {
        write(UnsafeBufferPointer(rebasing: bytes[range]))
    }

    @inline(__always)
    mutating func write(_ literal: StaticString) {
        write(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// A string's UTF-8 (a small string's bytes are copied at once, not walked one by one).
    @inline(__always)
    mutating func write(_ string: String) {
        var string = string
        string.withUTF8 { write($0) }
    }

    @inline(__always)
    mutating func write(byte: UInt8) {
        precondition(count < capacity, "ByteWriter: capacity exceeded")
        base[count] = byte
        count += 1
    }

    /// A non-negative integer in decimal.
    mutating func write(decimal value: Int) {
        precondition(value >= 0)
        var length = 1
        var scale = 10
        while length < 19, value >= scale {
            length += 1
            scale &*= 10
        }
        precondition(length <= capacity - count, "ByteWriter: capacity exceeded")
        var rest = value
        for offset in stride(from: length - 1, through: 0, by: -1) {
            base[count + offset] = UInt8(truncatingIfNeeded: 0x30 + rest % 10)
            rest /= 10
        }
        count += length
    }
}
