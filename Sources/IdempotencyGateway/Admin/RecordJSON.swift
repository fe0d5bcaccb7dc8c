import GatewayHTTP
import GatewayStore
import Idempotency

/// The JSON view of a record used by `GET /keys/{key}` and `idempotency-gateway keys show`.
enum RecordJSON {
    static func render(_ record: IdempotencyRecord, includeBody: Bool, now: Timestamp) -> String {
        func quoted(_ text: String) -> String { "\"" + ProblemDetails.jsonEscaped(text) + "\"" }
        var fields: [String] = [
            #""key":\#(quoted(record.key.key))"#,
            #""scope":\#(quoted(record.key.scope))"#,
            #""state":\#(quoted(displayState(record, now: now)))"#,
            #""created":\#(quoted(ISOTime.format(record.createdAt)))"#,
            #""expires":\#(quoted(ISOTime.format(record.expiresAt)))"#,
            #""method":\#(quoted(record.method))"#,
            #""path":\#(quoted(record.path))"#,
            #""fingerprint":\#(quoted(record.fingerprint.map { hexByte($0) }.joined()))"#,
        ]
        if record.state == .inFlight {
            fields.append(#""leaseExpires":\#(quoted(ISOTime.format(record.leaseExpiresAt)))"#)
        }
        if let response = record.response {
            fields.append(#""status":\#(response.status)"#)
            // The marker of a body too large to store is the record's bookkeeping, not a header: shown as a flag.
            let omitted = response.fields.contains(ResponseRecorder.bodyOmittedMarker)
            let headers = response.fields.filter { $0 != ResponseRecorder.bodyOmittedMarker }
                .map { "[\(quoted($0.name)),\(quoted($0.value))]" }.joined(separator: ",")
            fields.append(#""headers":[\#(headers)]"#)
            fields.append(#""bodyBytes":\#(response.body.count)"#)
            if omitted { fields.append(#""bodyOmitted":true"#) }
            if includeBody {
                if let text = String(validating: response.body, as: UTF8.self) {
                    fields.append(#""body":\#(quoted(text))"#)
                } else {
                    fields.append(#""bodyHex":\#(quoted(response.body.map { hexByte($0) }.joined()))"#)
                }
            }
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// The state an operator needs: `expired` (gone at the next sweep; a new request starts afresh), `lease_ended`
    /// (in flight, but its lease is over: the next request with the key takes it over), else `in_flight` or
    /// `completed`.
    static func displayState(_ record: IdempotencyRecord, now: Timestamp) -> String {
        if record.expiresAt <= now { return "expired" }
        if record.state == .inFlight, record.leaseExpiresAt <= now { return "lease_ended" }
        return record.state.rawValue
    }

    private static func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}

/// RFC 3339 UTC timestamps from milliseconds since 1970, without Foundation.
enum ISOTime {
    static func format(_ milliseconds: Timestamp) -> String {
        let millis = Int(((milliseconds % 1000) + 1000) % 1000)
        var seconds = Int((milliseconds - Int64(millis)) / 1000)
        let secondOfDay = ((seconds % 86400) + 86400) % 86400
        var days = (seconds - secondOfDay) / 86400
        seconds = secondOfDay
        // Civil-from-days (Howard Hinnant's algorithm).
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        var year = yearOfEra + era * 400
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        if month <= 2 { year += 1 }
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2)).\(pad(millis, 3))Z"
    }
}
