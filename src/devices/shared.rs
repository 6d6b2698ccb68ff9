//! The device listing cache's Redis layer, shared by replicas: a listing loaded on one
//! replica serves the same session on every other, and a write on any replica drops
//! it everywhere (deleted in Redis, announced on the invalidation channel) or, when the
//! write's effect is known, replaces it in Redis and drops the in-process copies.
//!
//! Listings are sealed (`session.encryption_keys`): they hold the user's addresses.
//!
//! Failures here are soft: the listing is a cache, so a Redis that cannot answer means
//! one more upstream 2FGET, not an error for the client.

use std::time::Duration;

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

    /// The session's listing, if a replica stored one (and it opens).
    pub async fn get(&self, key: TokenHash) -> Result<Option<Devices>, StoreError> {
        self.link
            .get_sealed("GET listing", RedisLink::key("listing", key))
            .await
    }

    /// Stores the session's listing, sealed, for the configured TTL.
    pub async fn put(&self, key: TokenHash, devices: &Devices) -> Result<(), StoreError> {
        self.link
            .set_sealed(
                "SET listing",
                RedisLink::key("listing", key),
                devices,
                self.ttl,
            )
            .await
    }

    /// Stores the session's listing as a write left it, sealed, for `ttl`, and tells
    /// every replica to drop its in-process copy (their next read finds this one).
    pub async fn replace(
        &self,
        key: TokenHash,
        devices: &Devices,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.link
            .set_sealed_and_announce(
                "SET+PUBLISH listing",
                RedisLink::key("listing", key),
                devices,
                ttl,
                Invalidation::Listing(key),
            )
            .await
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
