/// One write queued for the group-commit writer.
enum WriteOperation: Sendable {
    case claim(Claim, likelyNew: Bool)
    case complete(RecordKey, owner: OwnerToken, response: EncodedResponse, expiresAt: Timestamp)
    case release(RecordKey, owner: OwnerToken)
    case delete(RecordKey)
    case deleteExpired(now: Timestamp, limit: Int)
    /// Nothing: its batch's `BEGIN IMMEDIATE … COMMIT` is the check (``KeyStore/checkWritable()``).
    case probe
}

/// What a write produced, before any decoding.
enum WriteResult: Sendable {
    case claimed(tookOver: Bool)
    case inFlight(RawRecord)
    case completed(RawRecord)
    case changed(Bool)
    case count(Int)
}

extension WriteOperation {
    /// Applies the operation inside the writer's open transaction.
    func apply(on db: SQLiteConnection) throws(SQLiteError) -> WriteResult {
        switch self {
        case .claim(let claim, let likelyNew):
            return try Self.claim(claim, likelyNew: likelyNew, on: db)
        case .complete(let key, let owner, let response, let expiresAt):
            return .changed(try RecordsTable.complete(key, owner: owner, response: response, expiresAt: expiresAt, on: db))
        case .release(let key, let owner):
            return .changed(try RecordsTable.release(key, owner: owner, on: db))
        case .delete(let key):
            return .changed(try RecordsTable.delete(key, on: db))
        case .deleteExpired(let now, let limit):
            return .count(try RecordsTable.deleteExpired(now: now, limit: limit, on: db))
        case .probe:
            return .changed(false)
        }
    }

    /// ``KeyStore/claim(_:likelyNew:)``'s decision table, in SQL.
    private static func claim(_ claim: Claim, likelyNew: Bool, on db: SQLiteConnection) throws(SQLiteError)
        -> WriteResult
    {
        if likelyNew {
            do throws(SQLiteError) {
                try RecordsTable.insert(claim, on: db)
                return .claimed(tookOver: false)
            } catch where error.code == .constraintPrimaryKey {
                // The hint was wrong. A constraint failure under the default ABORT resolution "backs out any prior
                // changes made by the current SQL statement, but changes caused by prior SQL statements within
                // the same transaction are preserved and the transaction remains active" (sqlite.org/lang_conflict.html),
                // so the batch goes on and the key is decided below.
            }
        }
        guard let existing = try RecordsTable.fetch(claim.key, on: db) else {
            try RecordsTable.insert(claim, on: db)
            return .claimed(tookOver: false)
        }
        switch StoredState(rawValue: existing.state) {
        case .completed:
            if existing.expiresAt <= claim.now {
                try RecordsTable.replace(claim, on: db)
                return .claimed(tookOver: false)
            }
            return .completed(existing)
        case .inFlight:
            if existing.expiresAt <= claim.now {
                // Abandoned long enough to have expired: the key is new again, whatever the payload.
                try RecordsTable.replace(claim, on: db)
                return .claimed(tookOver: false)
            }
            // A lease that ended is taken over only by the same request (same fingerprint): a different payload
            // under the key stays a mismatch (draft §2.2), reported by the caller as 422.
            if existing.leaseExpiresAt <= claim.now, existing.fingerprint == claim.fingerprint {
                try RecordsTable.takeOver(claim, on: db)
                return .claimed(tookOver: true)
            }
            return .inFlight(existing)
        case nil:
            // An unknown state is reported to this caller when it decodes the record; nothing is changed.
            return .inFlight(existing)
        }
    }
}
