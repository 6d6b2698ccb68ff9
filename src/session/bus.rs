//! Cross-replica invalidation over Redis pub/sub.
//!
//! A replica that ends a session or drops a device listing deletes it in Redis and
//! publishes `session:{hash}` or `listing:{hash}` on [`CHANNEL`]; every replica (itself
//! included) drops its in-memory copy when the message arrives. A replica that was
//! disconnected may have missed messages, so after every (re)subscription it drops its
//! whole L1 ([`Invalidation::All`]); a message lost any other way is bounded by the L1
//! TTL.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fred::clients::Client;
use fred::interfaces::{ClientLike, EventInterface, PubsubInterface};
use tokio::sync::broadcast;

use super::generations::Generations;
use super::token::TokenHash;

/// The pub/sub channel every replica listens on.
pub const CHANNEL: &str = "wdgate:invalidate";

/// How many invalidations may wait for a slow listener before it must drop everything.
const LOCAL_CAPACITY: usize = 4096;

/// How often a reconnection's subscriber checks that the whole client is connected.
const CONNECT_POLL: Duration = Duration::from_millis(20);

/// Pause before retrying a failed SUBSCRIBE on a live connection.
const RESUBSCRIBE_PAUSE: Duration = Duration::from_millis(200);

/// What to drop from the in-memory caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalidation {
    /// One session.
    Session(TokenHash),
    /// One session's device listing.
    Listing(TokenHash),
    /// Everything: messages may have been missed.
    All,
}

/// Applies invalidations to an in-process cache until the bus closes: `key_of` picks
/// the messages about this cache's entries; a lag or `All` drops every entry. Each
/// applied message bumps its key's generation, so a load that overlapped it is not
/// kept.
pub async fn apply_to_cache<V>(
    mut listener: broadcast::Receiver<Invalidation>,
    cache: super::TokenCache<V>,
    generations: Arc<Generations>,
    key_of: fn(&Invalidation) -> Option<TokenHash>,
) where
    V: Clone + Send + Sync + 'static,
{
    loop {
        let invalidation = match listener.recv().await {
            Ok(invalidation) => invalidation,
            Err(broadcast::error::RecvError::Lagged(_)) => Invalidation::All,
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if matches!(invalidation, Invalidation::All) {
            generations.bump_all();
            cache.invalidate_all();
        } else if let Some(key) = key_of(&invalidation) {
            generations.bump(&key);
            cache.invalidate(&key).await;
        }
    }
}

impl Invalidation {
    /// The message text, e.g. `session:3fa1…` (a token hash, never a token).
    pub fn encode(&self) -> String {
        match self {
            Self::Session(key) => format!("session:{}", key.to_hex()),
            Self::Listing(key) => format!("listing:{}", key.to_hex()),
            Self::All => "all".to_owned(),
        }
    }

    /// Parses [`Self::encode`]'s text; `None` for anything else.
    pub fn decode(text: &str) -> Option<Self> {
        if text == "all" {
            return Some(Self::All);
        }
        let (kind, hex) = text.split_once(':')?;
        let key = TokenHash::from_hex(hex)?;
        match kind {
            "session" => Some(Self::Session(key)),
            "listing" => Some(Self::Listing(key)),
            _ => None,
        }
    }
}

/// The receiving side: fans the channel's messages out to in-process listeners.
#[derive(Debug, Clone)]
pub struct Bus {
    local: broadcast::Sender<Invalidation>,
    subscribed: Arc<AtomicBool>,
    subscriber: Client,
}

impl Bus {
    /// Connects `subscriber` (a client of its own: a subscribed connection runs no
    /// other commands) and keeps it subscribed across reconnections.
    pub(crate) fn start(subscriber: Client) -> Self {
        let (local, _) = broadcast::channel(LOCAL_CAPACITY);
        let bus = Self {
            local,
            subscribed: Arc::new(AtomicBool::new(false)),
            subscriber,
        };
        // Both receivers exist before the first connection, so no event is missed.
        let reconnects = bus.subscriber.reconnect_rx();
        let messages = bus.subscriber.message_rx();
        tokio::spawn(bus.clone().keep_subscribed(reconnects));
        tokio::spawn(bus.clone().dispatch(messages));
        // The connection task runs until the process ends, reconnecting as needed.
        drop(bus.subscriber.connect());
        bus
    }

    /// A receiver of every invalidation from now on. A listener that lags behind
    /// gets `RecvError::Lagged` and must drop everything.
    pub fn listen(&self) -> broadcast::Receiver<Invalidation> {
        self.local.subscribe()
    }

    /// Whether invalidations are being received right now (for readiness).
    pub fn is_subscribed(&self) -> bool {
        self.subscribed.load(Ordering::SeqCst) && self.subscriber.is_connected()
    }

    /// Subscribes after every (re)connection, then drops every L1, which may hold
    /// entries invalidated while the connection was down.
    async fn keep_subscribed(
        self,
        mut reconnects: broadcast::Receiver<fred::types::config::Server>,
    ) {
        loop {
            match reconnects.recv().await {
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
            self.subscribed.store(false, Ordering::SeqCst);
            loop {
                if !self.subscriber.is_connected() {
                    // A cluster announces each node's connection before the client as a
                    // whole is connected (fred sets the state after the last node): the
                    // last announcement may come before `is_connected`, so wait for it
                    // rather than for an announcement that will not come.
                    tokio::time::sleep(CONNECT_POLL).await;
                    continue;
                }
                match self.subscriber.subscribe(CHANNEL).await {
                    Ok(()) => {
                        self.subscribed.store(true, Ordering::SeqCst);
                        let _ = self.local.send(Invalidation::All);
                        tracing::info!(channel = CHANNEL, "listening for session invalidations");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot subscribe to session invalidations; retrying");
                        tokio::time::sleep(RESUBSCRIBE_PAUSE).await;
                    }
                }
            }
        }
    }

    /// Turns channel messages into local invalidations.
    async fn dispatch(self, mut messages: broadcast::Receiver<fred::types::Message>) {
        loop {
            match messages.recv().await {
                Ok(message) if &*message.channel == CHANNEL => {
                    match message
                        .value
                        .as_str()
                        .as_deref()
                        .and_then(Invalidation::decode)
                    {
                        Some(invalidation) => {
                            let _ = self.local.send(invalidation);
                        }
                        None => tracing::debug!("ignoring an unknown invalidation message"),
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        missed,
                        "invalidation messages were dropped; clearing the L1 caches"
                    );
                    let _ = self.local.send(Invalidation::All);
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Token;

    #[test]
    fn invalidations_round_trip_and_never_carry_the_token() {
        let token = Token::generate().expect("rng");
        let key = token.hash();
        for invalidation in [
            Invalidation::Session(key),
            Invalidation::Listing(key),
            Invalidation::All,
        ] {
            let text = invalidation.encode();
            assert!(!text.contains(&token.as_str()[4..]));
            assert_eq!(Invalidation::decode(&text), Some(invalidation));
        }
        for junk in ["", "session:", "session:zz", "other:00", "all:"] {
            assert_eq!(Invalidation::decode(junk), None, "{junk:?}");
        }
    }
}
