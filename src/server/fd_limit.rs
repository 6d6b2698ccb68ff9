//! The file descriptor limit: raised to its hard limit at start-up (as Go's runtime
//! does), and a warning when `server.max_connections` does not fit below it.

/// Descriptors kept for everything but client connections: upstream and Redis
/// connections, the simulator, log and config files.
const RESERVED: u64 = 256;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and warns when `max_connections`
/// plus a reserve exceed it (accepting would then fail with EMFILE before the cap).
pub fn raise(max_connections: usize) {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let mut limit = getrlimit(Resource::Nofile);
        if limit.current < limit.maximum {
            let raised = rustix::process::Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            };
            match setrlimit(Resource::Nofile, raised) {
                Ok(()) => limit = getrlimit(Resource::Nofile),
                Err(e) => tracing::debug!(error = %e, "cannot raise the file descriptor limit"),
            }
        }
        let wanted = u64::try_from(max_connections)
            .unwrap_or(u64::MAX)
            .saturating_add(RESERVED);
        if let Some(soft) = limit.current.filter(|soft| *soft < wanted) {
            tracing::warn!(
                fd_limit = soft,
                max_connections,
                "the file descriptor limit is below server.max_connections plus {RESERVED}: \
                 accepting may fail (EMFILE) before the connection cap is reached; lower \
                 server.max_connections or raise the limit (ulimit -n, LimitNOFILE=)"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = max_connections;
}
