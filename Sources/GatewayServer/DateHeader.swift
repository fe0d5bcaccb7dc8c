#if canImport(Glibc)
import Glibc
#endif

/// The `Date` field value (RFC 9110 §6.6.1, IMF-fixdate) for responses that have none — the echo backend's,
/// the gateway's own errors — formatted at most once per second.
enum DateHeader {
    /// The last formatted second and its value, one per thread (a shared cache would be a lock that both event
    /// loops take for every response).
    private final class Cache {
        var second = -1
        var value = ""
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let result = pthread_key_create(&key) { cache in
            if let cache { Unmanaged<Cache>.fromOpaque(cache).release() }
        }
        precondition(result == 0, "pthread_key_create failed: \(result)")
        return key
    }()

    private static let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func now() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        let second = spec.tv_sec
        let cache: Cache
        if let existing = pthread_getspecific(key) {
            cache = Unmanaged<Cache>.fromOpaque(existing).takeUnretainedValue()
        } else {
            cache = Cache()
            pthread_setspecific(key, Unmanaged.passRetained(cache).toOpaque())
        }
        if cache.second != second {
            cache.second = second
            cache.value = format(second)
        }
        return cache.value
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` for seconds since 1970.
    static func format(_ seconds: Int) -> String {
        let secondOfDay = seconds % 86_400
        let dayNumber = seconds / 86_400
        // Civil-from-days (Howard Hinnant).
        let shifted = dayNumber + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[dayNumber % 7]), \(two(day)) \(months[month - 1]) \(year) "
            + "\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)) GMT"
    }
}
