//! The device listing cache's Redis layer, shared by replicas: a listing loaded on one
//! replica serves the same session on every other, and a write on any replica drops
//! it everywhere (deleted in Redis, announced on the invalidation channel).
//!
//! Failures here are soft: the listing is a cache, so a Redis that cannot answer means
//! one more upstream 2FGET, not an error for the client.

use std::time::Duration;

use fred::interfaces::KeysInterface;
use fred::types::Expiration;
use tokio::sync::broadcast;

use super::listing::Devices;
use crate::session::{Invalidation, RedisLink, StoreError, TokenHash};

/// Listings in Redis under `wdgate:listing:{hex of the token hash}`.
#[derive(Debug, Clone)]
pub struct SharedListings {
    link: RedisLink,
    ttl: Duration,
}

impl SharedListings {
    /// Listings kept `ttl` in Redis.
    pub fn new(link: RedisLink, ttl: Duration) -> Self {
        Self { link, ttl }
    }

    /// The session's listing, if a replica stored one.
    pub async fn get(&self, key: TokenHash) -> Result<Option<Devices>, StoreError> {
        let call = self
            .link
            .client()
            .get::<Option<String>, _>(RedisLink::key("listing", key));
        let text = self.link.call("GET listing", call).await?;
        Ok(text.and_then(|text| match serde_json::from_str(&text) {
            Ok(devices) => Some(devices),
            Err(e) => {
                tracing::warn!(error = %e, "an unreadable cached listing was ignored");
                None
            }
        }))
    }

    /// Stores the session's listing for the configured TTL.
    pub async fn put(&self, key: TokenHash, devices: &Devices) -> Result<(), StoreError> {
        let text = serde_json::to_string(devices)
            .map_err(|e| StoreError(format!("cannot encode a listing: {e}")))?;
        let ttl = i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX);
        let call = self.link.client().set::<(), _, _>(
            RedisLink::key("listing", key),
            text,
            Some(Expiration::PX(ttl)),
            None,
            false,
        );
        self.link.call("SET listing", call).await
    }

    /// Deletes the session's listing and tells every replica to drop its copy.
    pub async fn invalidate(&self, key: TokenHash) -> Result<(), StoreError> {
        self.link
            .delete_and_announce(RedisLink::key("listing", key), Invalidation::Listing(key))
            .await
            .map(drop)
    }

    /// Invalidations from every replica.
    pub fn listen(&self) -> broadcast::Receiver<Invalidation> {
        self.link.bus().listen()
    }
}
