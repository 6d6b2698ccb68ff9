//! The per-session cache of the 2FA listing, with stable ids worked out once per load.
//!
//! Concurrent reads of one session share a single upstream 2FGET (moka's
//! `try_get_with` coalesces them). A write whose effect the gateway knows (a rename,
//! an enable or disable, a delete) updates the entry in place, so the next read shows
//! it without a 2FGET; its List_ID is then spent (a write makes earlier List_IDs
//! invalid), so the next write loads a fresh one first. Any other write (an add, an
//! address change, a write that failed) drops the entry.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::future::Cache;
use serde::{Deserialize, Serialize};

use super::ids::IdKey;
use super::shared::SharedListings;
use crate::address::Address;
use crate::session::{
    Generations, Invalidation, RedisLink, TokenCache, TokenHash, TokenHashState, bus,
};
use crate::upstream::twofa::{DeviceRow, Listing};
use crate::upstream::{self};

/// A device as the gateway knows it: its stable id, its parsed address, its row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// The stable id (`dev_…`).
    pub id: String,
    /// Phone or email, normalized.
    pub address: Address,
    /// The upstream row (its `rec` is valid for the listing's `list_id` only).
    pub row: DeviceRow,
}

/// One listing with ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Devices {
    /// The List_ID that `rec` numbers refer to.
    pub list_id: String,
    /// The devices in upstream order.
    pub devices: Vec<Device>,
    /// A write made since the 2FGET used `list_id` up: the rows are current, but a
    /// write needs a fresh listing first.
    #[serde(default)]
    pub list_id_spent: bool,
    /// When these rows were read from Worldox (in this process; a listing read from
    /// Redis counts from then, Redis having bounded its age already).
    #[serde(skip)]
    pub loaded: LoadedAt,
    /// The API's answers for this listing, rendered once and kept as long as it is.
    #[serde(skip)]
    pub rendered: Rendered,
}

/// What a write the gateway made did to one device, so that its cached listing can
/// show it without asking Worldox again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    /// 2FSET edited the row: this name and enabled flag, the same address.
    Edited {
        /// The new description.
        name: &'a str,
        /// The new flag.
        enabled: bool,
    },
    /// 2FSET deleted the row.
    Deleted,
    /// An effect the listing cannot show without Worldox's row (an add, a new
    /// address): the listing is dropped.
    Unknown,
}

/// When a listing's rows were read; not part of its value (`==` ignores it).
#[derive(Debug, Clone, Copy)]
pub struct LoadedAt(pub Instant);

impl Default for LoadedAt {
    fn default() -> Self {
        Self(Instant::now())
    }
}

impl PartialEq for LoadedAt {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for LoadedAt {}

/// Renderings of a listing (`[masked, clear]`), made on first use. A cache, not part of
/// the listing's value: it is not stored in Redis and does not take part in `==`.
#[derive(Debug, Clone, Default)]
pub struct Rendered([OnceLock<Bytes>; 2]);

impl Rendered {
    /// The rendering for `redact`, made by `render` the first time it gives one.
    pub fn get_or_init<E>(
        &self,
        redact: bool,
        render: impl FnOnce() -> Result<Bytes, E>,
    ) -> Result<Bytes, E> {
        let cell = &self.0[usize::from(!redact)];
        if let Some(bytes) = cell.get() {
            return Ok(bytes.clone());
        }
        let bytes = render()?;
        Ok(cell.get_or_init(|| bytes).clone())
    }
}

impl PartialEq for Rendered {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Rendered {}

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

    /// The listing as Worldox holds it after `change` to device `id` went through:
    /// the rows updated, the List_ID spent, the age of the rows kept. `None` when the
    /// change cannot be shown (unknown, or no such device here).
    pub fn after(&self, id: &str, change: Change<'_>) -> Option<Self> {
        let at = self.devices.iter().position(|d| d.id == id)?;
        let mut devices = self.devices.clone();
        match change {
            Change::Edited { name, enabled } => {
                let row = &mut devices[at].row;
                name.clone_into(&mut row.name);
                row.enabled = enabled;
            }
            // Worldox closes the numbers up; they are only used with a fresh List_ID.
            Change::Deleted => drop(devices.remove(at)),
            Change::Unknown => return None,
        }
        Some(Self {
            list_id: self.list_id.clone(),
            devices,
            list_id_spent: true,
            loaded: self.loaded,
            rendered: Rendered::default(),
        })
    }
}

/// Listings cached per session: in process, and in Redis when sessions are.
#[derive(Debug, Clone)]
pub struct ListingCache {
    /// `None` when caching is off: every read goes upstream.
    cache: Option<TokenCache<Arc<Devices>>>,
    ids: IdKey,
    ttl: Duration,
    capacity: u64,
    /// The Redis layer shared by replicas, if any.
    shared: Option<SharedListings>,
    /// Bumped for a key on every invalidation and replacement of it (here, or from the
    /// shared layer), so a load that raced with one is not kept.
    generations: Arc<Generations>,
}

impl ListingCache {
    /// A cache keeping each listing `ttl` (zero: no caching) for at most `capacity`
    /// sessions.
    pub fn new(ids: IdKey, ttl: Duration, capacity: u64) -> Self {
        let cache = (!ttl.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build_with_hasher(TokenHashState)
        });
        Self {
            cache,
            ids,
            ttl,
            capacity,
            shared: None,
            generations: Arc::new(Generations::default()),
        }
    }

    /// Shares listings through Redis when `link` is given: Redis keeps them for the
    /// cache TTL, and the in-process layer only `l1_ttl` (invalidations from other
    /// replicas arrive over pub/sub; the short TTL bounds a missed one). Starts the
    /// task that applies invalidations (needs a Tokio runtime).
    pub fn shared(self, link: Option<&RedisLink>, l1_ttl: Duration) -> Self {
        let (Some(link), Some(_)) = (link, &self.cache) else {
            return self;
        };
        let cache = (!l1_ttl.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(self.capacity)
                .time_to_live(self.ttl.min(l1_ttl))
                .build_with_hasher(TokenHashState)
        });
        let shared = SharedListings::new(link.clone(), self.ttl);
        if let Some(cache) = &cache {
            tokio::spawn(bus::apply_to_cache(
                shared.listen(),
                cache.clone(),
                self.generations.clone(),
                |i| match i {
                    Invalidation::Listing(key) => Some(*key),
                    _ => None,
                },
            ));
        }
        Self {
            cache,
            shared: Some(shared),
            ..self
        }
    }

    /// The session's listing: cached, or loaded by the future `load()` makes (one load
    /// for concurrent callers).
    ///
    /// A hit is one cache lookup: the loading future (an upstream call, kilobytes of
    /// state) is not even made, and on a miss it is boxed, so the futures of the
    /// handlers above stay small and are cheap to move through the tower stack.
    pub async fn get<F, Fut>(
        &self,
        key: TokenHash,
        username: &str,
        load: F,
    ) -> Result<Arc<Devices>, upstream::Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Listing, upstream::Error>>,
    {
        if let Some(cache) = &self.cache {
            if let Some(devices) = cache.get(&key).await {
                // The cache's own TTL restarts when a write updates an entry in place;
                // the rows' age must not.
                if devices.loaded.0.elapsed() < self.ttl {
                    crate::metrics::listing_cache(true);
                    return Ok(devices);
                }
                cache.invalidate(&key).await;
            }
        }
        // Both boxed: an upstream call's future is kilobytes, and so is the loading.
        Box::pin(self.get_or_load(key, username, Box::pin(load()))).await
    }

    async fn get_or_load<F>(
        &self,
        key: TokenHash,
        username: &str,
        load: F,
    ) -> Result<Arc<Devices>, upstream::Error>
    where
        F: Future<Output = Result<Listing, upstream::Error>>,
    {
        let before = self.generations.of(&key);
        let loaded = AtomicBool::new(false);
        let translate = async {
            if let Some(devices) = self.shared_get(key).await {
                return Ok(Arc::new(devices));
            }
            loaded.store(true, Ordering::Relaxed);
            let devices = Arc::new(self.with_ids(username, load.await?));
            if self.generations.of(&key) == before {
                self.shared_put(key, &devices).await;
            }
            Ok(devices)
        };
        let devices = match &self.cache {
            Some(cache) => {
                let devices = cache
                    .try_get_with(key, translate)
                    .await
                    .map_err(Arc::unwrap_or_clone);
                // An invalidation arrived while loading: do not keep what may be stale.
                if self.generations.of(&key) != before {
                    cache.invalidate(&key).await;
                }
                devices
            }
            None => translate.await,
        };
        // A hit is a read that caused no upstream 2FGET (cached, shared, or coalesced).
        crate::metrics::listing_cache(!loaded.load(Ordering::Relaxed));
        devices
    }

    /// Drops the session's listing, after a write or when it proved stale, here and
    /// (with Redis) on every replica.
    pub async fn invalidate(&self, key: TokenHash) {
        // A load in flight may have read the rows before the write: it must not keep them.
        self.generations.bump(&key);
        if let Some(cache) = &self.cache {
            cache.invalidate(&key).await;
        }
        if let Some(shared) = &self.shared {
            if let Err(e) = Box::pin(shared.invalidate(key)).await {
                tracing::warn!(error = %e, "could not drop a shared device listing");
            }
        }
    }

    /// After a write that went through: the session's listing becomes `devices` here
    /// and (with Redis) for every replica, which drop their in-process copies and find
    /// this one in Redis. Loads in flight do not keep what they read. If Redis cannot
    /// take it, the listing is dropped everywhere instead.
    pub async fn replace(&self, key: TokenHash, devices: Devices) {
        self.generations.bump(&key);
        if let Some(shared) = &self.shared {
            let left = self.ttl.saturating_sub(devices.loaded.0.elapsed());
            if left.is_zero() {
                return self.invalidate(key).await;
            }
            if let Err(e) = Box::pin(shared.replace(key, &devices, left)).await {
                tracing::warn!(error = %e, "could not share an updated device listing");
                return self.invalidate(key).await;
            }
        }
        if let Some(cache) = &self.cache {
            cache.insert(key, Arc::new(devices)).await;
        }
    }

    async fn shared_get(&self, key: TokenHash) -> Option<Devices> {
        let shared = self.shared.as_ref()?;
        // Boxed here, and so only with Redis: a Redis round trip's future is about
        // 14 KB, and inline it would make every listing load that much bigger.
        Box::pin(shared.get(key)).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "shared device listing unavailable; asking upstream");
            None
        })
    }

    async fn shared_put(&self, key: TokenHash, devices: &Devices) {
        if let Some(shared) = &self.shared {
            if let Err(e) = Box::pin(shared.put(key, devices)).await {
                tracing::warn!(error = %e, "could not share a device listing");
            }
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
            list_id_spent: false,
            loaded: LoadedAt::default(),
            rendered: Rendered::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::UpstreamConfig;
    use crate::upstream::sid::Sid;

    fn listing(loaded: Instant) -> Devices {
        let device = |rec: u32, addr: &str, name: &str| Device {
            id: format!("dev_{rec}"),
            address: Address::parse(addr).expect("an address"),
            row: DeviceRow {
                rec,
                addr: addr.to_owned(),
                addr_asis: addr.to_owned(),
                name: name.to_owned(),
                enabled: true,
            },
        };
        Devices {
            list_id: "x211D3D8".to_owned(),
            devices: vec![
                device(1, "a@example.com", "Work"),
                device(2, "b@example.com", "Home"),
            ],
            list_id_spent: false,
            loaded: LoadedAt(loaded),
            rendered: Rendered::default(),
        }
    }

    #[test]
    fn a_known_change_updates_the_rows_spends_the_list_id_and_keeps_the_age() {
        let loaded = Instant::now() - Duration::from_secs(7);
        let before = listing(loaded);
        let edited = before
            .after(
                "dev_2",
                Change::Edited {
                    name: "Cell",
                    enabled: false,
                },
            )
            .expect("shown");
        assert_eq!(edited.devices[1].row.name, "Cell");
        assert!(!edited.devices[1].row.enabled);
        assert_eq!(edited.devices[0], before.devices[0]);
        assert!(edited.list_id_spent);
        assert_eq!(edited.loaded.0, loaded);
        let deleted = before.after("dev_1", Change::Deleted).expect("shown");
        assert_eq!(deleted.devices.len(), 1);
        assert_eq!(deleted.devices[0].id, "dev_2");
        assert!(before.after("dev_1", Change::Unknown).is_none());
        assert!(before.after("dev_9", Change::Deleted).is_none());
    }

    #[tokio::test]
    async fn rows_older_than_the_ttl_are_reloaded_even_when_a_write_updated_them() {
        let cache = ListingCache::new(IdKey::from_secret(b"k"), Duration::from_secs(5), 10);
        let key = TokenHash::from_hex(&"ab".repeat(32)).expect("a hash");
        let fresh = || async {
            Ok(Listing {
                list_id: "xNEW".to_owned(),
                rows: Vec::new(),
            })
        };
        let young = listing(Instant::now());
        cache
            .replace(key, young.after("dev_1", Change::Deleted).expect("shown"))
            .await;
        let got = cache.get(key, "u", fresh).await.expect("listing");
        assert_eq!((got.list_id.as_str(), got.devices.len()), ("x211D3D8", 1));
        let old = listing(Instant::now() - Duration::from_secs(6));
        cache
            .replace(key, old.after("dev_1", Change::Deleted).expect("shown"))
            .await;
        let got = cache.get(key, "u", fresh).await.expect("listing");
        assert_eq!(got.list_id, "xNEW", "the rows were older than the TTL");
    }

    #[tokio::test]
    async fn a_write_to_one_session_does_not_throw_away_another_sessions_load() {
        let cache = ListingCache::new(IdKey::from_secret(b"k"), Duration::from_secs(60), 10);
        let mine = TokenHash::from_hex(&"ab".repeat(32)).expect("a hash");
        let theirs = TokenHash::from_hex(&"cd".repeat(32)).expect("a hash");
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let (started, is_started) = tokio::sync::oneshot::channel::<()>();
        let slow = async move {
            started.send(()).expect("the test waits");
            released.await.expect("released");
            Ok(Listing {
                list_id: "xMINE".to_owned(),
                rows: Vec::new(),
            })
        };
        let load = {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get(mine, "u", || slow).await.map(drop) })
        };
        is_started.await.expect("the load started");
        cache.replace(theirs, listing(Instant::now())).await;
        cache.invalidate(theirs).await;
        release.send(()).expect("the load waits");
        load.await.expect("join").expect("loaded");
        let again = cache
            .get(mine, "u", || async { Err(upstream::Error::Saturated) })
            .await
            .expect("kept: no second load");
        assert_eq!(again.list_id, "xMINE");
    }

    #[tokio::test]
    async fn a_load_that_overlapped_a_write_to_its_session_is_not_kept() {
        let cache = ListingCache::new(IdKey::from_secret(b"k"), Duration::from_secs(60), 10);
        let mine = TokenHash::from_hex(&"ab".repeat(32)).expect("a hash");
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let (started, is_started) = tokio::sync::oneshot::channel::<()>();
        let before_the_write = async move {
            started.send(()).expect("the test waits");
            released.await.expect("released");
            Ok(Listing {
                list_id: "xOLD".to_owned(),
                rows: Vec::new(),
            })
        };
        let load = {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get(mine, "u", || before_the_write).await.map(drop) })
        };
        is_started.await.expect("the load started");
        let written = listing(Instant::now());
        cache
            .replace(
                mine,
                written.after("dev_1", Change::Deleted).expect("shown"),
            )
            .await;
        release.send(()).expect("the load waits");
        load.await.expect("join").expect("loaded");
        let fresh = || async {
            Ok(Listing {
                list_id: "xFRESH".to_owned(),
                rows: Vec::new(),
            })
        };
        let got = cache.get(mine, "u", fresh).await.expect("listing");
        assert_ne!(got.list_id, "xOLD", "rows read before the write were kept");
    }

    /// A listing load is moved into its box on every cache miss; inline Redis futures
    /// once made it 30 KB, and copying it cost more than parsing the answer.
    #[tokio::test]
    async fn a_listing_load_stays_small() {
        let config = UpstreamConfig {
            url: Some("http://127.0.0.1:9".to_owned()),
            ..UpstreamConfig::default()
        };
        let client = upstream::Client::new(&config).expect("client");
        let sid = Sid::new("x".to_owned());
        let cache = ListingCache::new(IdKey::from_secret(b"k"), Duration::ZERO, 10);
        let key = TokenHash::from_hex(&"ab".repeat(32)).expect("a hash");
        let load = cache.get_or_load(key, "u", Box::pin(client.list_devices(&sid)));
        assert!(
            std::mem::size_of_val(&load) < 4096,
            "{} bytes",
            std::mem::size_of_val(&load)
        );
    }
}
