import GatewayHTTP
import GatewayStore
import HTTPTypes

/// Turns backend responses into stored records and stored records back into replays.
///
/// Storing (draft-ietf-httpapi-idempotency-key-header-07 §2.6, "the result of the previously completed
/// operation"): the status, the header fields in order with their names as received, and the body. Not stored:
/// the hop-by-hop fields (``HopByHopHeaders``), the configured dropped fields (`Set-Cookie`), the fields the
/// response's `Connection` header names (RFC 9110 §7.6.1), and `Content-Length` (the server recomputes framing),
/// except in the answer to a `HEAD` request, which has no body: there it is the length a `GET` would have had
/// (RFC 9110 §9.3.2), replayed as such (unless the dropped fields name it).
/// A body over the storable limit is not stored: the record gets the pseudo-field ``bodyOmittedMarker`` (a name no
/// HTTP field can have, so no backend header can be mistaken for it) and an empty body.
///
/// Replaying: the stored status, the stored fields, `Idempotent-Replayed: true`, and the stored body byte for
/// byte. For a body-omitted record, `Content-Type` and `Content-Encoding` are dropped (the body is empty) and
/// `Idempotent-Replay-Body: omitted` is added.
package struct ResponseRecorder: Sendable {
    /// The pseudo-field that marks a record whose body was too large to store.
    package static let bodyOmittedMarker = StoredResponse.Field(name: ":idempotency-body", value: "omitted")

    private let droppedNames: Set<String>
    private let droppedPrefixes: [String]
    /// The answer to a `HEAD` keeps its `Content-Length` unless the configured dropped fields name it.
    private let keepsHEADContentLength: Bool
    let maxBodyBytes: Int

    /// - Parameter droppedResponseHeaders: fields never stored besides the hop-by-hop ones (``HopByHopHeaders``,
    ///   which describe the connection a response came on, not the response); names, or `Prefix-*` for a prefix.
    init(droppedResponseHeaders: [HTTPField.Name], maxBodyBytes: Int) {
        var names: Set<String> = [HTTPField.Name.contentLength.canonicalName]
        var prefixes: [String] = []
        for name in droppedResponseHeaders {
            let canonical = name.canonicalName
            if canonical.hasSuffix("*") {
                prefixes.append(String(canonical.dropLast()))
            } else {
                names.insert(canonical)
            }
        }
        droppedNames = names
        droppedPrefixes = prefixes
        let contentLength = HTTPField.Name.contentLength.canonicalName
        keepsHEADContentLength = !droppedResponseHeaders.contains { $0.canonicalName == contentLength }
            && !prefixes.contains { contentLength.hasPrefix($0) }
        self.maxBodyBytes = maxBodyBytes
    }

    /// What to store for `response`, and whether its body was omitted.
    /// - Parameters:
    ///   - bodyTooLarge: the body is over the limit whatever ``GatewayResponse/body`` holds (a streamed response, of
    ///     which only the start was read).
    ///   - toHEAD: the response answers a `HEAD` request: its `Content-Length` is kept (RFC 9110 §9.3.2).
    func storable(
        _ response: GatewayResponse, bodyTooLarge: Bool = false, toHEAD: Bool = false
    ) -> (stored: StoredResponse, bodyOmitted: Bool) {
        let fields = response.head.headerFields
        var connectionNamed: Set<String> = []
        for value in fields[values: .connection] {
            for token in value.split(separator: ",") {
                connectionNamed.insert(token.trimmingSpaces().lowercased())
            }
        }
        let omitted = bodyTooLarge || response.body.count > maxBodyBytes
        var stored: [StoredResponse.Field] = []
        stored.reserveCapacity(fields.count + 1)
        if omitted { stored.append(Self.bodyOmittedMarker) }
        for field in fields {
            let canonical = field.name.canonicalName
            if toHEAD, keepsHEADContentLength, field.name == .contentLength, !connectionNamed.contains(canonical) {
                stored.append(StoredResponse.Field(name: field.name.rawName, value: field.value))
                continue
            }
            if HopByHopHeaders.isHopByHop(canonical) || droppedNames.contains(canonical)
                || connectionNamed.contains(canonical)
            {
                continue
            }
            if !droppedPrefixes.isEmpty, droppedPrefixes.contains(where: { canonical.hasPrefix($0) }) { continue }
            stored.append(StoredResponse.Field(name: field.name.rawName, value: field.value))
        }
        let status = response.head.status.code
        return (StoredResponse(status: status, fields: stored, body: omitted ? [] : response.body), omitted)
    }

    /// The replay of a stored response. A stored `Content-Length` (only an answer to `HEAD` has one) stays in the
    /// replay's fields, where the server takes it as the length of the `HEAD` answer; it never frames a body.
    func replay(_ stored: StoredResponse) -> GatewayResponse {
        var omitted = false
        var fields = HTTPFields()
        fields.reserveCapacity(stored.fields.count + 2)
        for field in stored.fields {
            if field == Self.bodyOmittedMarker {
                omitted = true
                continue
            }
            guard let name = HTTPField.Name(field.name) else { continue }
            fields.append(HTTPField(name: name, value: field.value))
        }
        if omitted {
            fields[.contentType] = nil
            fields[.contentEncoding] = nil
            fields[IdempotencyHeaders.idempotentReplayBody] = "omitted"
        }
        // Set, not appended: a backend's own `Idempotent-Replayed` field must not contradict the marker.
        fields[IdempotencyHeaders.idempotentReplayed] = "true"
        let code = (100...999).contains(stored.status) ? stored.status : 500
        let status = HTTPResponse.Status(code: code, reasonPhrase: ReasonPhrase.standard(for: code))
        var replay = GatewayResponse(status: status, headerFields: fields, body: omitted ? [] : stored.body)
        // Encoded once: every send of this replay writes the same status line and fields.
        replay.encodedHead = HTTPEncoder.encodeStatusAndFields(replay.head)
        return replay
    }
}
