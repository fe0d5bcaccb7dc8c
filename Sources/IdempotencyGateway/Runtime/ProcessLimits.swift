import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Process-wide settings the `serve` command makes before it starts (an embedding test process keeps its own).
enum ProcessLimits {
    /// Raises the soft limit on open descriptors to the hard limit. Each client connection under a key can hold a
    /// second descriptor (its upstream connection) until `upstream.timeout`, and the default soft limit (often 1024)
    /// would run out long before `server.max-connections` (4096 by default); then nothing can be accepted, not even
    /// to answer 503. Warns when even the hard limit is below what the configured connections can use (the admin
    /// listener's `admin.max-connections` included).
    static func raiseDescriptorLimit(for configuration: GatewayConfiguration, logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        if limit.rlim_cur < limit.rlim_max {
            let before = limit.rlim_cur
            limit.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
                logger.debug(
                    "raised the open-descriptor limit", metadata: ["from": "\(before)", "to": "\(limit.rlim_cur)"])
            } else {
                limit.rlim_cur = before
            }
        }
        let adminConnections = configuration.admin.listen == nil ? 0 : configuration.admin.maxConnections
        let needed = rlim_t(
            2 * configuration.server.maxConnections + adminConnections + configuration.upstream.maxIdleConnections + 64)
        if limit.rlim_cur < needed {
            logger.warning(
                """
                the open-descriptor limit is below what server.max-connections can use; raise it (ulimit -n) or \
                lower max-connections
                """,
                metadata: ["limit": "\(limit.rlim_cur)", "needed": "\(needed)"])
        }
    }
}
