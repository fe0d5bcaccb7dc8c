import Dispatch
import Logging
import Synchronization

/// Moves WAL checkpoints off the writer's path: a connection of its own runs `PRAGMA wal_checkpoint(PASSIVE)` every
/// interval, on its own queue.
///
/// A checkpoint copies committed pages from the WAL into the database file and, with `synchronous=NORMAL`, syncs
/// both ("WAL mode ... checkpoint operations ... sync", sqlite.org/pragma.html#pragma_synchronous). Run by SQLite's
/// automatic checkpointing it happens inside whichever COMMIT crosses the threshold, so every claim waiting on that
/// commit waits for the syncs too: that was the gateway's tail latency for new keys. A PASSIVE checkpoint "does as
/// much work as possible without interfering with other database connections" (sqlite.org/c3ref/wal_checkpoint_v2.html),
/// so the writer keeps committing meanwhile. The writer keeps a high automatic-checkpoint threshold as a backstop
/// (``SQLiteKeyStore/Options/backstopCheckpointPages``) in case this one falls behind. The backstop is not a hard
/// bound: under sustained writes the WAL can overshoot it by what is written during one background checkpoint
/// (the writer's own attempt finds the checkpoint lock taken); `journal_size_limit` truncates a file grown past twice
/// the backstop back to that after the next restart.
final class Checkpointer: Sendable {
    private let worker: ConnectionWorker
    private let timer: Mutex<(any DispatchSourceTimer)?>
    private let logger: Logger
    /// Checkpoints run and pages they copied, for tests.
    let checkpointsRun = Atomic<Int>(0)

    init(connection: sending SQLiteConnection, interval: Duration, logger: Logger) {
        let worker = ConnectionWorker(label: "gateway.store.checkpointer", connection: connection)
        self.worker = worker
        self.logger = logger
        self.timer = Mutex(nil)
        let milliseconds = max(
            1, Int(interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000))
        let queue = worker.queue
        timer.withLock { timer in
            let source = DispatchSource.makeTimerSource(queue: queue)
            source.schedule(
                deadline: .now() + .milliseconds(milliseconds), repeating: .milliseconds(milliseconds),
                leeway: .milliseconds(max(1, milliseconds / 10)))
            source.setEventHandler { [weak self] in self?.checkpoint() }
            source.resume()
            timer = source
        }
    }

    deinit {
        // A store released without close(): the timer would otherwise fire (doing nothing) for the process's life.
        timer.withLock { $0?.cancel() }
    }

    /// One passive checkpoint (on the worker's queue).
    private func checkpoint() {
        do throws(KeyStoreError) {
            try worker.withConnection { (db) throws(KeyStoreError) in
                try sqlite { () throws(SQLiteError) in try db.execute("PRAGMA wal_checkpoint(PASSIVE)") }
            }
            checkpointsRun.add(1, ordering: .relaxed)
        } catch .closed {
            return
        } catch {
            // Busy or I/O trouble: the next tick tries again, and the writer's backstop still bounds the WAL.
            logger.warning("background WAL checkpoint failed", metadata: ["error": "\(error)"])
        }
    }

    /// Stops the timer and closes the connection (before the writer closes, which checkpoints the rest).
    func close() async {
        timer.withLock { timer in
            timer?.cancel()
            timer = nil
        }
        if let error = await worker.close() {
            logger.warning("checkpointer close failed", metadata: ["error": "\(error)"])
        }
    }
}
