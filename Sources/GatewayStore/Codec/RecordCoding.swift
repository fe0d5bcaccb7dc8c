/// A `records` row as stored, before decoding (no decompression yet, so the writer thread never inflates bodies).
struct RawRecord: Sendable {
    var key: RecordKey
    var state: Int64
    var fingerprint: [UInt8]
    var owner: String
    var createdAt: Int64
    var leaseExpiresAt: Int64
    var expiresAt: Int64
    var method: String
    var path: String
    var status: Int64?
    var headers: [UInt8]?
    var body: [UInt8]?
    var bodyEncoding: Int64?
    var bodySize: Int64?
}

/// A response ready for the `records` columns: headers encoded, body compressed when that pays.
struct EncodedResponse: Sendable {
    var status: Int64
    var headers: [UInt8]
    var body: [UInt8]
    var bodyEncoding: Int64
    var bodySize: Int64
}

/// The `body_encoding` column.
enum BodyEncoding: Int64 {
    case identity = 0
    /// ``BodyCompression`` with ``BodyCompression/Format/zlib``.
    case zlib = 1
}

/// The `state` column.
enum StoredState: Int64 {
    case inFlight = 0
    case completed = 1
}

extension EncodedResponse {
    /// Encodes `response`; a body of at least `compressionThreshold` bytes is zlib-compressed when the result is
    /// smaller. (`compressionThreshold <= 0` disables compression.)
    init(_ response: StoredResponse, compressionThreshold: Int) {
        status = Int64(response.status)
        headers = HeaderCodec.encode(response.fields)
        bodySize = Int64(response.body.count)
        if compressionThreshold > 0, response.body.count >= compressionThreshold,
            let compressed = try? BodyCompression.compress(response.body), compressed.count < response.body.count
        {
            body = compressed
            bodyEncoding = BodyEncoding.zlib.rawValue
        } else {
            body = response.body
            bodyEncoding = BodyEncoding.identity.rawValue
        }
    }
}

extension RawRecord {
    /// Decodes the row. Throws ``KeyStoreError/corrupt(_:)`` for an unknown state or encoding, a bad header block,
    /// or a body that does not inflate to its recorded size (at most `maxBodyBytes`).
    func decode(maxBodyBytes: Int) throws(KeyStoreError) -> IdempotencyRecord {
        guard let state = StoredState(rawValue: state) else { throw .corrupt("\(key): unknown state \(state)") }
        var response: StoredResponse?
        if state == .completed {
            response = try decodeResponse(maxBodyBytes: maxBodyBytes)
        }
        return IdempotencyRecord(
            key: key, state: state == .completed ? .completed : .inFlight, fingerprint: fingerprint,
            owner: OwnerToken(rawValue: owner), createdAt: createdAt, leaseExpiresAt: leaseExpiresAt,
            expiresAt: expiresAt, method: method, path: path, response: response)
    }

    private func decodeResponse(maxBodyBytes: Int) throws(KeyStoreError) -> StoredResponse {
        guard let status, let headers, let bodyEncoding, let bodySize else {
            throw .corrupt("\(key): completed record without a response")
        }
        guard status >= 0, status <= 999 else { throw .corrupt("\(key): status \(status)") }
        guard bodySize >= 0, bodySize <= Int64(maxBodyBytes) else { throw .corrupt("\(key): body size \(bodySize)") }
        let fields: [StoredResponse.Field]
        do throws(KeyStoreError) {
            fields = try HeaderCodec.decode(headers)
        } catch {
            throw .corrupt("\(key): \(error)")
        }
        let stored = body ?? []
        let bytes: [UInt8]
        switch BodyEncoding(rawValue: bodyEncoding) {
        case .identity:
            guard stored.count == Int(bodySize) else { throw .corrupt("\(key): body is not \(bodySize) bytes") }
            bytes = stored
        case .zlib:
            do throws(BodyCompressionError) {
                bytes = try BodyCompression.decompress(stored, expectedSize: Int(bodySize))
            } catch {
                throw .corrupt("\(key): body \(error)")
            }
        case nil:
            throw .corrupt("\(key): unknown body encoding \(bodyEncoding)")
        }
        return StoredResponse(status: Int(status), fields: fields, body: bytes)
    }
}
