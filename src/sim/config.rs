//! The simulator's configuration and its users: the built-in demo users or a TOML file.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How the simulator runs. Every field has a default, so an empty table is valid.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Path of a TOML users file; None = built-in demo users only. A file's users
    /// replace the demo users.
    pub users_file: Option<PathBuf>,
    /// SIDs expire after this many idle seconds (default 1800).
    pub sid_idle_secs: u64,
    /// Access codes expire after this many seconds (default 600).
    pub code_ttl_secs: u64,
    /// Faults active from start (default none).
    pub faults: Faults,
    /// `skip` names the first line 1-based, with 0 meaning 1 (default `1`, as the
    /// reference and the real client read it), or 0-based (`0`), to test a gateway's
    /// detection of the base.
    pub skip_base: u8,
    /// Document lists one SID may hold; beyond it the oldest is evicted (default 64).
    pub max_lists_per_session: usize,
    /// Size of the large seed document (`00014999.csv`) in MiB (default 200). Its bytes
    /// are generated on read, never held in memory.
    pub large_document_mib: u64,
    /// Decoded parameter sets `GET /_sim/requests` keeps per command (default 50).
    pub requests_kept: usize,
    /// A document list (FINDFILES, VERLIST) expires this many seconds after it was
    /// issued, however much it is used; afterwards it answers `WDRC_LISTID_INVALID`
    /// (8375) as a closed or stale one does (default 0: lists live until CLOSELIST,
    /// eviction or the end of the session). How long real lists live is unknown.
    pub list_ttl_secs: u64,
    /// CGI calls served at once, as an IIS CGI pool serves them; calls beyond it queue
    /// in arrival order until one ends (default 0: unlimited). File GETs and `/_sim/`
    /// routes never queue.
    pub capacity: usize,
    /// Milliseconds each CGI call holds its slot before it is answered: the server's
    /// service time (default 0). `faults.latency_ms` adds to it, inside the slot.
    pub call_ms: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            users_file: None,
            sid_idle_secs: 1800,
            code_ttl_secs: 600,
            faults: Faults::default(),
            skip_base: 1,
            max_lists_per_session: 64,
            large_document_mib: 200,
            requests_kept: 50,
            list_ttl_secs: 0,
            capacity: 0,
            call_ms: 0,
        }
    }
}

/// Injected faults, applied to CGI requests and file GETs only (never to `/_sim/`
/// routes). Each ratio is a probability in `0.0..=1.0`, rolled independently per
/// request; the CGI ones in the order hang, drop, garbage, error. A faulted CGI request
/// never reaches the Worldox logic.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Sleep this long before answering every CGI request.
    pub latency_ms: u64,
    /// Answer HTTP 200 `text/html` with a body that is not JSON.
    pub garbage_ratio: f64,
    /// Answer the command's failure envelope with an error code no gateway knows.
    pub error_ratio: f64,
    /// Never answer.
    pub hang_ratio: f64,
    /// Send the headers, then reset the connection instead of a body.
    pub drop_ratio: f64,
    /// Every List_ID is stale the moment it is issued, so every 2FSET edit or delete
    /// fails with `WDRC_LISTID_INVALID`.
    pub stale_lists: bool,
    /// Every document List_ID (FINDFILES, VERLIST) is stale the moment it is issued, so
    /// every SORTFILES, SERVE, DOWNLOAD or VERLIST on one fails with
    /// `WDRC_LISTID_INVALID`.
    pub stale_doc_lists: bool,
    /// A download copy is gone when its file is fetched (an IIS 404), as when the
    /// server cleaned it up between DOWNLOAD and the GET.
    pub download_copy_missing_ratio: f64,
    /// The file server refuses every download copy with an HTML 403, as IIS does when
    /// the per-session path is not the caller's to read.
    pub download_copy_forbidden: bool,
    /// File bodies trickle at this many bytes a second (0: full speed).
    pub slow_body_bytes_per_sec: u64,
    /// A file body resets the connection half-way through.
    pub reset_mid_body_ratio: f64,
    /// A file body stops half-way through and sends nothing more, the connection kept
    /// open (a stalled IIS or a dead path that does not reset), until the reader gives
    /// up.
    pub stall_mid_body_ratio: f64,
    /// A document write (today DOWNLOAD, which sets `ACC` and `OW`) makes every
    /// document list of every session stale. Off by default: the real client reuses
    /// lists after writes (DOCUMENTS.md T2).
    pub stale_doc_lists_after_write: bool,
    /// The seed whose description is `Correo electrónico del cliente` goes out as raw
    /// Windows-1252 bytes inside the JSON, as the reference's CATLIST example shows a
    /// server doing (default on).
    pub cp1252_bytes: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            garbage_ratio: 0.0,
            error_ratio: 0.0,
            hang_ratio: 0.0,
            drop_ratio: 0.0,
            stale_lists: false,
            stale_doc_lists: false,
            download_copy_missing_ratio: 0.0,
            download_copy_forbidden: false,
            slow_body_bytes_per_sec: 0,
            reset_mid_body_ratio: 0.0,
            stall_mid_body_ratio: 0.0,
            stale_doc_lists_after_write: false,
            cp1252_bytes: true,
        }
    }
}

impl Faults {
    /// The name of the first ratio outside `0.0..=1.0` (or NaN), if any.
    pub fn invalid_ratio(&self) -> Option<&'static str> {
        [
            ("garbage_ratio", self.garbage_ratio),
            ("error_ratio", self.error_ratio),
            ("hang_ratio", self.hang_ratio),
            ("drop_ratio", self.drop_ratio),
            (
                "download_copy_missing_ratio",
                self.download_copy_missing_ratio,
            ),
            ("reset_mid_body_ratio", self.reset_mid_body_ratio),
            ("stall_mid_body_ratio", self.stall_mid_body_ratio),
        ]
        .into_iter()
        .find(|(_, r)| !(0.0..=1.0).contains(r))
        .map(|(name, _)| name)
    }
}

/// One simulated Worldox user, as written in a users file:
///
/// ```toml
/// [[users]]
/// username = "alice"
/// password = "s3cret"
/// name = "Alice Example"
/// email = "alice@example.com"
/// firm = "Example Law LLP"
///
/// [[users.devices]]
/// address = "+15551234567"
/// name = "Work cell"
/// enabled = true
/// ```
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SimUser {
    /// The user code typed at LOGON (matched case-insensitively).
    pub username: String,
    /// The password (matched exactly).
    pub password: String,
    /// The display name (LOGON's `data.user`).
    #[serde(default)]
    pub name: String,
    /// LOGON's `data.email`.
    #[serde(default)]
    pub email: String,
    /// LOGON's `data.Firm`.
    #[serde(default)]
    pub firm: String,
    /// The user's two-factor devices at start.
    #[serde(default)]
    pub devices: Vec<SimDevice>,
}

/// A two-factor device of a [`SimUser`].
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SimDevice {
    /// An email address or a phone number.
    pub address: String,
    /// The device's description.
    #[serde(default)]
    pub name: String,
    /// Whether the device is enabled (default true).
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

/// The top level of a users file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UsersFile {
    #[serde(default)]
    pub(crate) users: Vec<SimUser>,
}

fn enabled_by_default() -> bool {
    true
}

impl fmt::Debug for SimUser {
    // The password stays out of logs, even a simulator's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimUser")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("name", &self.name)
            .field("email", &self.email)
            .field("firm", &self.firm)
            .field("devices", &self.devices)
            .finish()
    }
}

/// The built-in demo users, used when no users file is configured:
///
/// | username | password | name | email | firm | devices |
/// |---|---|---|---|---|---|
/// | `demo` | `demo` | Demo User | demo@example.com | Example Law LLP | `+15516555721` "Work cell", `demo@example.com` "Work email", both enabled |
/// | `qc1` | `qc1` | QC User1 | qc1@worldox.com | World Software Corporation | none |
/// | `tricky` | `p+a&s=s%w#rd 1é` | Tricky Password | tricky@example.com | Example Law LLP | none |
///
/// `tricky`'s password holds every CGI separator and escape character, a space and a
/// non-ASCII letter: logging in as it proves passwords reach the server intact.
pub fn demo_users() -> Vec<SimUser> {
    let user = |username: &str, password: &str, name: &str, email: &str, firm: &str| SimUser {
        username: username.to_owned(),
        password: password.to_owned(),
        name: name.to_owned(),
        email: email.to_owned(),
        firm: firm.to_owned(),
        devices: Vec::new(),
    };
    let device = |address: &str, name: &str| SimDevice {
        address: address.to_owned(),
        name: name.to_owned(),
        enabled: true,
    };
    let mut demo = user(
        "demo",
        "demo",
        "Demo User",
        "demo@example.com",
        "Example Law LLP",
    );
    demo.devices = vec![
        device("+15516555721", "Work cell"),
        device("demo@example.com", "Work email"),
    ];
    vec![
        demo,
        user(
            "qc1",
            "qc1",
            "QC User1",
            "qc1@worldox.com",
            "World Software Corporation",
        ),
        user(
            "tricky",
            "p+a&s=s%w#rd 1\u{e9}",
            "Tricky Password",
            "tricky@example.com",
            "Example Law LLP",
        ),
    ]
}
