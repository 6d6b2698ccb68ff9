//! The per-session cache of the 2FA listing, with stable ids worked out once per load.
//!
//! Concurrent reads of one session share a single upstream 2FGET (moka's
//! `try_get_with` coalesces them). A write by the session drops its entry, so the next
//! read sees the change and a fresh List_ID.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use super::ids::IdKey;
use crate::address::Address;
use crate::session::TokenHash;
use crate::upstream::twofa::{DeviceRow, Listing};
use crate::upstream::{self};

/// A device as the gateway knows it: its stable id, its parsed address, its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The stable id (`dev_…`).
    pub id: String,
    /// Phone or email, normalized.
    pub address: Address,
    /// The upstream row (its `rec` is valid for the listing's `list_id` only).
    pub row: DeviceRow,
}

/// One listing with ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Devices {
    /// The List_ID that `rec` numbers refer to.
    pub list_id: String,
    /// The devices in upstream order.
    pub devices: Vec<Device>,
}

impl Devices {
    /// The device with `id`.
    pub fn find(&self, id: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.id == id)
    }

    /// The device at `address` (compared normalized).
    pub fn find_address(&self, address: &Address) -> Option<&Device> {
        self.devices
            .iter()
            .find(|d| d.address.key() == address.key())
    }
}

/// Listings cached per session.
#[derive(Debug, Clone)]
pub struct ListingCache {
    /// `None` when caching is off: every read goes upstream.
    cache: Option<Cache<TokenHash, Arc<Devices>>>,
    ids: IdKey,
}

impl ListingCache {
    /// A cache keeping each listing `ttl` (zero: no caching) for at most `capacity`
    /// sessions.
    pub fn new(ids: IdKey, ttl: Duration, capacity: u64) -> Self {
        let cache = (!ttl.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build()
        });
        Self { cache, ids }
    }

    /// The session's listing: cached, or loaded by `load` (one load for concurrent
    /// callers).
    pub async fn get<F>(
        &self,
        key: TokenHash,
        username: &str,
        load: F,
    ) -> Result<Arc<Devices>, upstream::Error>
    where
        F: Future<Output = Result<Listing, upstream::Error>>,
    {
        let translate = async {
            load.await
                .map(|listing| Arc::new(self.with_ids(username, listing)))
        };
        match &self.cache {
            Some(cache) => cache
                .try_get_with(key, translate)
                .await
                .map_err(Arc::unwrap_or_clone),
            None => translate.await,
        }
    }

    /// Drops the session's listing, after a write or when it proved stale.
    pub async fn invalidate(&self, key: TokenHash) {
        if let Some(cache) = &self.cache {
            cache.invalidate(&key).await;
        }
    }

    /// The id a device at `address` has for `username`.
    pub fn device_id(&self, username: &str, address: &Address) -> String {
        self.ids.device_id(username, address)
    }

    fn with_ids(&self, username: &str, listing: Listing) -> Devices {
        let devices = listing
            .rows
            .into_iter()
            .filter_map(|row| {
                // A row whose address is neither a phone nor an email cannot be named
                // stably; Worldox only stores those two kinds.
                let address =
                    Address::parse(&row.addr_asis).or_else(|| Address::parse(&row.addr))?;
                Some(Device {
                    id: self.ids.device_id(username, &address),
                    address,
                    row,
                })
            })
            .collect();
        Devices {
            list_id: listing.list_id,
            devices,
        }
    }
}
