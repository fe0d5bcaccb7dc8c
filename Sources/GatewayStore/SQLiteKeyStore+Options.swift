import Logging

extension SQLiteKeyStore {
    /// How the store opens and runs its database.
    public struct Options: Sendable {
        /// SQLite's `synchronous` setting in WAL mode.
        public enum Synchronous: String, Sendable {
            /// `synchronous=NORMAL`: commits are not fsynced; the WAL is synced at checkpoints. "A transaction
            /// committed in WAL mode with synchronous=NORMAL might roll back following a power loss or system crash"
            /// but survives the process being killed (sqlite.org/pragma.html#pragma_synchronous).
            case normal = "NORMAL"
            /// `synchronous=FULL`: every commit is fsynced, so it survives power loss too. Group commit shares the
            /// fsync across a batch.
            case full = "FULL"
        }

        /// Durability of a commit. Default ``Synchronous/normal``.
        public var synchronous: Synchronous
        /// How long a statement waits for another process's lock before failing with SQLITE_BUSY. Default 5 s.
        public var busyTimeout: Duration
        /// Bodies of at least this many bytes are zlib-compressed when that makes them smaller; `0` disables
        /// compression. Default 1024.
        public var compressionThreshold: Int
        /// Read-only connections for ``SQLiteKeyStore/record(for:)``, `forEachKey` and `statistics`, each on its own
        /// queue so reads never wait for the writer (WAL). Default 2. An in-memory database has one connection and
        /// reads share the writer's.
        public var readerCount: Int
        /// The most operations the writer commits in one transaction (group commit). Default 256.
        public var maxBatch: Int
        /// Run `PRAGMA quick_check` at open and refuse a damaged file. It reads the whole file (O(N)), so a very large
        /// store may want it off. Default `true`.
        public var quickCheckAtOpen: Bool
        /// The largest body a stored record may declare; a larger declared size is treated as corruption rather than
        /// allocated. Default 64 MiB.
        public var maxBodyBytes: Int
        /// Keys fetched per read by `forEachKey`. Default 4096.
        public var keyPageSize: Int
        /// How often a background connection checkpoints the WAL into the database file (`PRAGMA
        /// wal_checkpoint(PASSIVE)`), so that commits never wait for a checkpoint's copying and syncing. Default
        /// 250 ms; `nil` leaves checkpoints to SQLite's automatic ones inside the writer's commits.
        public var checkpointInterval: Duration?
        /// With a background checkpointer, the WAL size in pages at which the writer checkpoints itself anyway
        /// (`PRAGMA wal_autocheckpoint`), should the background one fall behind; a WAL file over twice this size is
        /// truncated back to that (`PRAGMA journal_size_limit`). Default 16384 (64 MiB of 4 KiB pages). Not a hard
        /// bound: under sustained writes the WAL can overshoot it by what one background checkpoint lets through.
        public var backstopCheckpointPages: Int
        /// Where open/close events and failed write batches are logged.
        public var logger: Logger

        public init(
            synchronous: Synchronous = .normal,
            busyTimeout: Duration = .seconds(5),
            compressionThreshold: Int = 1024,
            readerCount: Int = 2,
            maxBatch: Int = 256,
            quickCheckAtOpen: Bool = true,
            maxBodyBytes: Int = 64 << 20,
            keyPageSize: Int = 4096,
            checkpointInterval: Duration? = .milliseconds(250),
            backstopCheckpointPages: Int = 16384,
            logger: Logger = Logger(label: "gateway.store")
        ) {
            self.synchronous = synchronous
            self.busyTimeout = busyTimeout
            self.compressionThreshold = compressionThreshold
            self.readerCount = readerCount
            self.maxBatch = maxBatch
            self.quickCheckAtOpen = quickCheckAtOpen
            self.maxBodyBytes = maxBodyBytes
            self.keyPageSize = keyPageSize
            self.checkpointInterval = checkpointInterval
            self.backstopCheckpointPages = backstopCheckpointPages
            self.logger = logger
        }

        var busyTimeoutMilliseconds: Int32 {
            let (seconds, attoseconds) = busyTimeout.components
            guard seconds >= 0 else { return 0 }
            guard seconds < Int64(Int32.max) / 1000 else { return Int32.max }
            return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        }
    }
}
