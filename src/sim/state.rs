//! Everything the simulated server remembers: users and their devices, sessions,
//! listings, pending access codes, the outbox, call counts and the active faults.
//!
//! All of it sits behind one mutex that no handler holds across an `.await`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use tokio::time::Instant;

use super::config::{Faults, SimConfig, SimUser};
use super::doclists::DocLists;
use super::envelope::WdError;
use super::random;
use super::store::Store;
use crate::address::Address;
use crate::upstream::fields::{REF_PREFIX, msg, param, rc};

/// Bytes of randomness in a SID: 44, which base64-encodes to 60 characters as the
/// seed's SID does.
const SID_BYTES: usize = 44;
/// Listings remembered per user; older List_IDs are forgotten (and so invalid). Many,
/// so that many sessions of one user reading at once do not evict each other's.
const LISTS_PER_USER: usize = 1024;

/// How often a LOGON sweeps idle sessions out of the table.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// The simulator's whole state.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) users: Vec<UserState>,
    /// User index by username, ASCII-lowercased (Worldox user codes ignore case).
    by_name: HashMap<String, usize>,
    sessions: HashMap<String, Session>,
    /// When idle sessions were last swept out (at most every [`SWEEP_EVERY`], so a
    /// LOGON does not walk every session).
    swept: Option<Instant>,
    lists: HashMap<String, ListRef>,
    refs: HashMap<String, PendingRef>,
    pub(crate) outbox: Vec<OutboxEntry>,
    pub(crate) calls: BTreeMap<String, u64>,
    pub(crate) faults: Faults,
    /// LOGON's `rsClient`, random per simulator.
    pub(crate) rs_client: String,
    /// LOGON's `rsSecret`, random per simulator.
    pub(crate) rs_secret: String,
    sid_idle: Duration,
    code_ttl: Duration,
    /// Document lists (FINDFILES, SORTFILES, CLOSELIST), by SID.
    pub(crate) doc_lists: DocLists,
    /// Whether `skip` is 1-based (with 0 meaning 1) or 0-based: `sim.skip_base`.
    pub(crate) skip_base: u8,
    /// The documents, their versions and the download copies.
    pub(crate) store: Store,
    /// The last decoded parameter sets per command, SID redacted (`/_sim/requests`).
    pub(crate) requests: HashMap<String, VecDeque<Vec<(String, String)>>>,
    requests_kept: usize,
    /// File bodies being sent (`/_sim/stats`): one leaves when its connection ends or
    /// its reader drops it, which shows a gateway let go of the upstream side.
    pub(crate) file_bodies: Arc<AtomicUsize>,
}

/// A user and the devices the server stores for them.
#[derive(Debug)]
pub(crate) struct UserState {
    pub(crate) profile: SimUser,
    pub(crate) devices: Vec<Device>,
    /// Bumped by every write; a List_ID is valid while it is unchanged.
    generation: u64,
    /// List_IDs issued at the current generation, oldest first.
    list_ids: VecDeque<String>,
    /// Addresses an access code has verified, each until used or expired.
    verified: Vec<(String, Instant)>,
}

/// A stored two-factor device.
#[derive(Clone, Debug)]
pub(crate) struct Device {
    pub(crate) address: Address,
    pub(crate) name: String,
    pub(crate) enabled: bool,
}

/// An access code sent to an address (`GET /_sim/outbox`).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct OutboxEntry {
    pub(crate) to: String,
    pub(crate) code: String,
    #[serde(rename = "ref")]
    pub(crate) reference: String,
    pub(crate) user: String,
    pub(crate) object: String,
    pub(crate) action: String,
}

#[derive(Debug)]
struct Session {
    user: usize,
    last_used: Instant,
}

#[derive(Debug)]
struct ListRef {
    user: usize,
    generation: u64,
}

#[derive(Debug)]
struct PendingRef {
    user: usize,
    address: Address,
    code: String,
    expires: Instant,
}

impl State {
    /// A fresh state; `Err` names the first bad user or device.
    pub(crate) fn new(users: Vec<SimUser>, config: &SimConfig) -> Result<Self, String> {
        let mut states: Vec<UserState> = Vec::with_capacity(users.len());
        for mut profile in users {
            if profile.username.trim().is_empty() {
                return Err("a user has an empty username".to_owned());
            }
            if states
                .iter()
                .any(|u| u.profile.username.eq_ignore_ascii_case(&profile.username))
            {
                return Err(format!("user {:?} is defined twice", profile.username));
            }
            let mut devices: Vec<Device> = Vec::new();
            for d in std::mem::take(&mut profile.devices) {
                let address = Address::parse(&d.address).ok_or_else(|| {
                    format!(
                        "user {:?}: device {:?} is neither an email address nor a phone number",
                        profile.username, d.address
                    )
                })?;
                if devices.iter().any(|x| x.address.key() == address.key()) {
                    return Err(format!(
                        "user {:?}: device {:?} is listed twice",
                        profile.username, d.address
                    ));
                }
                devices.push(Device {
                    address,
                    name: d.name,
                    enabled: d.enabled,
                });
            }
            states.push(UserState {
                profile,
                devices,
                generation: 0,
                list_ids: VecDeque::new(),
                verified: Vec::new(),
            });
        }
        let mut by_name = HashMap::with_capacity(states.len());
        for (i, user) in states.iter().enumerate() {
            by_name
                .entry(user.profile.username.to_ascii_lowercase())
                .or_insert(i);
        }
        Ok(Self {
            users: states,
            by_name,
            sessions: HashMap::new(),
            swept: None,
            lists: HashMap::new(),
            refs: HashMap::new(),
            outbox: Vec::new(),
            calls: BTreeMap::new(),
            faults: config.faults.clone(),
            rs_client: random::hex(32),
            rs_secret: random::hex(32),
            sid_idle: Duration::from_secs(config.sid_idle_secs),
            code_ttl: Duration::from_secs(config.code_ttl_secs),
            doc_lists: DocLists::new(config.max_lists_per_session, config.list_ttl_secs),
            skip_base: config.skip_base,
            store: Store::new(config.large_document_mib.saturating_mul(1024 * 1024)),
            requests: HashMap::new(),
            requests_kept: config.requests_kept,
            file_bodies: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The user whose code is `username` (case-insensitive).
    pub(crate) fn find_user(&self, username: &str) -> Option<usize> {
        self.by_name.get(&username.to_ascii_lowercase()).copied()
    }

    /// Starts a session and returns its raw SID: standard base64 with `/`, `+` and `=`
    /// escaped as `$2F`, `$2B`, `$3D`.
    pub(crate) fn new_session(&mut self, user: usize, now: Instant) -> String {
        if self
            .swept
            .is_none_or(|at| now.duration_since(at) >= SWEEP_EVERY)
        {
            self.swept = Some(now);
            let idle = self.sid_idle;
            self.sessions
                .retain(|_, s| now.duration_since(s.last_used) <= idle);
            let sessions = &self.sessions;
            self.store.retain_sessions(|sid| sessions.contains_key(sid));
        }
        let mut bytes = [0u8; SID_BYTES];
        random::fill(&mut bytes);
        let sid = STANDARD
            .encode(bytes)
            .replace('/', "$2F")
            .replace('+', "$2B")
            .replace('=', "$3D");
        self.sessions.insert(
            sid.clone(),
            Session {
                user,
                last_used: now,
            },
        );
        sid
    }

    /// The user of a live SID, refreshing its idle timer; `WDRC_SID_INVALID` otherwise.
    pub(crate) fn session_user(
        &mut self,
        sid: Option<&str>,
        now: Instant,
    ) -> Result<usize, WdError> {
        let idle = self.sid_idle;
        let key = sid.unwrap_or_default();
        match self.sessions.get_mut(key) {
            Some(s) if now.duration_since(s.last_used) <= idle => {
                s.last_used = now;
                Ok(s.user)
            }
            Some(_) => {
                self.end_session(key);
                Err(WdError::sid_invalid(sid))
            }
            None => Err(WdError::sid_invalid(sid)),
        }
    }

    /// Ends a session, if there is one.
    pub(crate) fn end_session(&mut self, sid: &str) {
        self.sessions.remove(sid);
        self.doc_lists.end_session(sid);
        self.store.end_session(sid);
    }

    /// Whether `sid` is a live session, without refreshing its idle timer (a file GET
    /// is IIS's, not Worldox's); an expired one is ended.
    pub(crate) fn session_alive(&mut self, sid: &str, now: Instant) -> bool {
        let idle = self.sid_idle;
        match self.sessions.get(sid) {
            Some(s) if now.duration_since(s.last_used) <= idle => true,
            Some(_) => {
                self.end_session(sid);
                false
            }
            None => false,
        }
    }

    /// Records a document write: with `stale_doc_lists_after_write`, every document
    /// list becomes stale.
    pub(crate) fn document_written(&mut self) {
        if self.faults.stale_doc_lists_after_write {
            self.doc_lists.clear();
        }
    }

    /// Remembers one call's decoded parameters, the SID and passwords redacted.
    pub(crate) fn record_request(&mut self, command: &str, params: &[(String, String)]) {
        if self.requests_kept == 0 {
            return;
        }
        let kept = self.requests_kept;
        let redacted = params
            .iter()
            .map(|(k, v)| {
                let secret = [param::SID, param::USER_PASSWORD, param::SERVER_PASSWORD];
                if secret.iter().any(|s| k.trim().eq_ignore_ascii_case(s)) {
                    (k.clone(), "<redacted>".to_owned())
                } else {
                    (k.clone(), v.clone())
                }
            })
            .collect();
        let log = self.requests.entry(command.to_owned()).or_default();
        log.push_back(redacted);
        while log.len() > kept {
            log.pop_front();
        }
    }

    /// Every live session as `(username, raw SID)`, for tests that look for leaks.
    pub(crate) fn live_sessions(&self) -> Vec<(String, String)> {
        let now = Instant::now();
        self.sessions
            .iter()
            .filter(|(_, s)| now.duration_since(s.last_used) <= self.sid_idle)
            .map(|(sid, s)| (self.users[s.user].profile.username.clone(), sid.clone()))
            .collect()
    }

    /// The document lists each live session holds open, as `(username, count)`, for
    /// tests that check the gateway closes what it no longer needs.
    pub(crate) fn open_lists(&self) -> Vec<(String, usize)> {
        self.doc_lists
            .open_counts()
            .filter_map(|(sid, open)| {
                let user = self.sessions.get(sid)?.user;
                Some((self.users[user].profile.username.clone(), open))
            })
            .collect()
    }

    /// Ends every session.
    pub(crate) fn expire_all_sessions(&mut self) {
        self.sessions.clear();
        self.doc_lists.clear();
        self.store.expire_copies();
    }

    /// Issues a new List_ID (`x` and 7 uppercase hex digits) for `user`'s devices as
    /// they are now.
    pub(crate) fn new_list(&mut self, user: usize) -> String {
        let id = loop {
            let id = format!("x{:07X}", random::u64() & 0x0FFF_FFFF);
            if !self.lists.contains_key(&id) {
                break id;
            }
        };
        let u = &mut self.users[user];
        u.list_ids.push_back(id.clone());
        if u.list_ids.len() > LISTS_PER_USER {
            if let Some(old) = u.list_ids.pop_front() {
                self.lists.remove(&old);
            }
        }
        self.lists.insert(
            id.clone(),
            ListRef {
                user,
                generation: u.generation,
            },
        );
        id
    }

    /// The index into `user`'s devices of row `rec_num` of listing `list_id`.
    /// A listing stays valid while the user's generation is unchanged, so its rows are
    /// then exactly the current devices.
    pub(crate) fn resolve_row(
        &self,
        user: usize,
        list_id: &str,
        rec_num: Option<&str>,
    ) -> Result<usize, WdError> {
        if list_id.is_empty() {
            return Err(WdError::new(rc::LISTID_UNDEFINED, msg::LISTID_UNDEFINED));
        }
        let invalid = || WdError::new(rc::LISTID_INVALID, msg::LISTID_INVALID);
        let list = self.lists.get(list_id).ok_or_else(invalid)?;
        let u = &self.users[user];
        if list.user != user || list.generation != u.generation || self.faults.stale_lists {
            return Err(invalid());
        }
        let rec: usize = rec_num
            .and_then(|r| r.trim().parse().ok())
            .ok_or_else(invalid)?;
        if rec == 0 || rec > u.devices.len() {
            return Err(invalid());
        }
        Ok(rec - 1)
    }

    /// Records a write to `user`'s devices: every earlier List_ID becomes invalid.
    pub(crate) fn bump(&mut self, user: usize) {
        let u = &mut self.users[user];
        u.generation += 1;
        for id in u.list_ids.drain(..) {
            self.lists.remove(&id);
        }
    }

    /// Invalidates every listing of every user.
    pub(crate) fn invalidate_lists(&mut self) {
        self.doc_lists.clear();
        for user in 0..self.users.len() {
            self.bump(user);
        }
    }

    /// Creates a `Ref` and a 6-digit access code for `address`, and "sends" the code.
    pub(crate) fn send_code(
        &mut self,
        user: usize,
        address: &Address,
        object: &str,
        action: &str,
        now: Instant,
    ) -> String {
        self.refs.retain(|_, r| r.expires > now);
        let reference = loop {
            let n = random::u64();
            let r = format!("{REF_PREFIX}{:04X}-{:04X}", (n >> 16) & 0xFFFF, n & 0xFFFF);
            if !self.refs.contains_key(&r) {
                break r;
            }
        };
        let code = format!("{:06}", random::u64() % 1_000_000);
        self.outbox.push(OutboxEntry {
            to: address.asis().to_owned(),
            code: code.clone(),
            reference: reference.clone(),
            user: self.users[user].profile.username.clone(),
            object: object.to_owned(),
            action: action.to_owned(),
        });
        self.refs.insert(
            reference.clone(),
            PendingRef {
                user,
                address: address.clone(),
                code,
                expires: now + self.code_ttl,
            },
        );
        reference
    }

    /// Checks an access code. A right one uses the `Ref` up and marks its address
    /// verified for `user` until used or expired; a wrong one leaves the `Ref` usable
    /// (the reference is silent on this: a user who mistypes a code types it again),
    /// and an expired one is gone.
    pub(crate) fn check_code(
        &mut self,
        user: usize,
        reference: &str,
        code: &str,
        now: Instant,
    ) -> Result<Address, WdError> {
        let invalid = || {
            WdError::new(
                rc::TWO_FA_ACCESSCODE_INVALID,
                msg::TWO_FA_ACCESSCODE_INVALID,
            )
        };
        // Someone else's Ref is left alone: guessing at it must not burn it.
        match self.refs.get(reference) {
            Some(r) if r.user == user => {}
            _ => return Err(invalid()),
        }
        match self.refs.get(reference) {
            Some(r) if r.expires <= now => {
                self.refs.remove(reference);
                return Err(invalid());
            }
            Some(r) if r.code != code.trim() => return Err(invalid()),
            _ => {}
        }
        let pending = self.refs.remove(reference).ok_or_else(invalid)?;
        let expires = now + self.code_ttl;
        let verified = &mut self.users[user].verified;
        verified.retain(|(_, exp)| *exp > now);
        verified.push((pending.address.key(), expires));
        Ok(pending.address)
    }

    /// Whether an access code has verified `address` for `user`.
    pub(crate) fn is_verified(&self, user: usize, address: &Address, now: Instant) -> bool {
        let key = address.key();
        self.users[user]
            .verified
            .iter()
            .any(|(k, exp)| *k == key && *exp > now)
    }

    /// Uses up the verification of `address` for `user`.
    pub(crate) fn consume_verified(&mut self, user: usize, address: &Address) {
        let key = address.key();
        self.users[user].verified.retain(|(k, _)| *k != key);
    }
}
