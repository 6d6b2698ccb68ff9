//! The Worldox simulator: a faithful stand-in for a Worldox Web server's LOGON, LOGOFF,
//! 2FGET and 2FSET, byte-shaped as in the seeds, and the document commands CABINETS,
//! FINDFILES, SORTFILES, CLOSELIST, SERVE, DOWNLOAD and VERLIST over a document store
//! with real bytes and versions, shaped as in the reference, with the IIS file path
//! DOWNLOAD points at, an outbox for access codes and fault injection. It is the test
//! upstream and the gateway's embedded default.
//!
//! `/cgi-bin/wdwebcgi.exe` answers HTTP 200 JSON whatever happens (unless a fault is
//! injected); `/cgi-bin/WDSIDS/<SID>/OPEN/…` serves download copies as IIS would;
//! `/_sim/` holds admin routes: `GET outbox[?to=]`, `GET stats`, `GET sessions`,
//! `GET lists`, `GET documents`, `POST documents/{docnum}/move?cabinet=`,
//! `POST documents/{docnum}/touch`, `GET requests?command=`, `POST expire-sessions`,
//! `POST expire-downloads`, `POST invalidate-lists`, `GET|PUT faults`.
//!
//! CGI calls queue for `sim.capacity` slots (0: unlimited), each held `sim.call_ms`, as
//! an IIS CGI pool serves a slow Worldox; `GET /_sim/stats` counts them in service.

mod admin;
mod cabinets;
mod capacity;
mod closelist;
mod config;
mod content;
mod dispatch;
mod doclists;
mod documents;
mod download;
mod envelope;
mod faults;
mod files;
mod filters;
mod findfiles;
mod logon;
mod query;
mod random;
mod rows;
mod serve;
mod state;
mod store;
mod twofa_get;
mod twofa_set;
mod verlist;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::routing::{get, post};

use self::config::UsersFile;
pub use self::config::{Faults, SimConfig, SimDevice, SimUser, demo_users};
use self::state::State;
use crate::upstream::fields::CGI_PATH;

/// Why a simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The users file could not be read.
    #[error("cannot read the simulator users file {}: {source}", path.display())]
    ReadUsers {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The users file is not valid TOML of the expected shape.
    #[error("invalid simulator users file {}: {source}", path.display())]
    ParseUsers {
        /// The file.
        path: PathBuf,
        /// Why.
        source: toml::de::Error,
    },
    /// The users are not usable (a duplicate user, a bad device address…).
    #[error("invalid simulator users{}: {reason}", path.as_ref().map(|p| format!(" in {}", p.display())).unwrap_or_default())]
    InvalidUsers {
        /// The file, if the users came from one.
        path: Option<PathBuf>,
        /// What is wrong.
        reason: String,
    },
    /// A fault ratio is outside `0..=1`.
    #[error("invalid simulator faults: {0} must be between 0 and 1")]
    InvalidFaults(&'static str),
}

/// A simulated Worldox Web server. Cheap to clone: clones share one state.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    pool: capacity::Capacity,
    usernames: Vec<String>,
}

impl Simulator {
    /// A simulator with the configured users (a users file's, or [`demo_users`]).
    pub fn new(config: &SimConfig) -> Result<Self, SimError> {
        if let Some(name) = config.faults.invalid_ratio() {
            return Err(SimError::InvalidFaults(name));
        }
        let users = match &config.users_file {
            None => demo_users(),
            Some(path) => load_users(path)?,
        };
        let usernames = users.iter().map(|u| u.username.clone()).collect();
        let state = State::new(users, config).map_err(|reason| SimError::InvalidUsers {
            path: config.users_file.clone(),
            reason,
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                pool: capacity::Capacity::new(config.capacity, config.call_ms),
                usernames,
            }),
        })
    }

    /// The CGI endpoint and the `/_sim/` admin routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route(CGI_PATH, get(dispatch::cgi).post(dispatch::cgi))
            .route("/_sim/outbox", get(admin::outbox))
            .route("/_sim/stats", get(admin::stats))
            .route("/_sim/sessions", get(admin::sessions))
            .route("/_sim/lists", get(admin::lists))
            .route("/_sim/documents", get(admin::documents))
            .route("/_sim/documents/{docnum}/move", post(admin::move_document))
            .route(
                "/_sim/documents/{docnum}/touch",
                post(admin::touch_document),
            )
            .route("/_sim/requests", get(admin::requests))
            .route("/_sim/expire-downloads", post(admin::expire_downloads))
            .route("/cgi-bin/WDSIDS/{*path}", get(files::serve))
            .route("/_sim/expire-sessions", post(admin::expire_sessions))
            .route("/_sim/invalidate-lists", post(admin::invalidate_lists))
            .route(
                "/_sim/faults",
                get(admin::get_faults).put(admin::put_faults),
            )
            .with_state(self.clone())
    }

    /// The usernames the simulator accepts, for the demo warning.
    pub fn users(&self) -> Vec<String> {
        self.inner.usernames.clone()
    }

    /// The CGI pool calls queue for.
    fn pool(&self) -> &capacity::Capacity {
        &self.inner.pool
    }

    /// Runs `f` on the state under the lock. `f` is synchronous, so the lock is
    /// never held across an `.await`.
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        // A panic in another request must not take the simulator down with it.
        let mut state = self
            .inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&mut state)
    }
}

impl fmt::Debug for Simulator {
    // Sessions and secrets stay out of debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("users", &self.inner.usernames)
            .finish_non_exhaustive()
    }
}

/// Binds nothing: serves on an already-bound listener until the future is dropped.
/// The caller's address reaches 2FSET's `RMT`.
pub async fn serve(listener: tokio::net::TcpListener, sim: Simulator) -> std::io::Result<()> {
    axum::serve(
        listener,
        sim.router()
            .into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

fn load_users(path: &std::path::Path) -> Result<Vec<SimUser>, SimError> {
    let text = std::fs::read_to_string(path).map_err(|source| SimError::ReadUsers {
        path: path.to_owned(),
        source,
    })?;
    let file: UsersFile = toml::from_str(&text).map_err(|source| SimError::ParseUsers {
        path: path.to_owned(),
        source,
    })?;
    if file.users.is_empty() {
        return Err(SimError::InvalidUsers {
            path: Some(path.to_owned()),
            reason: "it defines no [[users]]".to_owned(),
        });
    }
    Ok(file.users)
}
