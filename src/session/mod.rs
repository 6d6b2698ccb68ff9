//! Gateway sessions: opaque tokens and the stores that map them to Worldox SIDs.
//!
//! Only this module holds a SID; it leaves only into `upstream/`.

pub mod bus;
pub mod generations;
pub mod memory;
pub mod redis;
pub mod redis_link;
pub mod sealed;
pub mod session_id;
pub mod store;
pub mod tiered;
pub mod token;

use std::sync::Arc;
use std::time::Duration;

pub use bus::Invalidation;
pub use generations::Generations;
pub use memory::MemoryStore;
pub use redis::RedisStore;
pub use redis_link::{ConnectError, RedisLink};
pub use sealed::Sealer;
pub use session_id::SessionId;
pub use store::{Session, SessionStore, StoreError};
pub use tiered::TieredStore;
pub use token::{RecentToken, Token, TokenCache, TokenHash, TokenHashState};

use crate::config::{SessionConfig, StoreKind};

/// The configured store, and the Redis connection when it is `redis` (which the device
/// listing cache shares).
pub fn build_store(
    config: &SessionConfig,
) -> Result<(Arc<dyn SessionStore>, Option<RedisLink>), ConnectError> {
    let idle = Duration::from_secs(config.idle_timeout_secs);
    match config.store {
        StoreKind::Memory => Ok((
            Arc::new(MemoryStore::new(
                config.max_sessions,
                idle,
                config.max_sessions_per_user,
            )),
            None,
        )),
        StoreKind::Redis => {
            let link = RedisLink::connect(config)?;
            let store = TieredStore::new(
                RedisStore::new(link.clone(), idle, config.max_sessions_per_user),
                Duration::from_millis(config.l1_ttl_ms),
                config.max_sessions,
            );
            Ok((Arc::new(store), Some(link)))
        }
    }
}
