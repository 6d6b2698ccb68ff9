//! `[documents]`: the documents resource: cursor keys, the per-session locator cache and
//! list registry, search paging and the sort keys Worldox expects.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// How the upstream counts `skip` (DOCUMENTS.md T3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SkipBase {
    /// Send the 1-based first line, check the first row's `LN`, and switch to the other
    /// base (for this process) when it disagrees.
    #[default]
    Auto,
    /// `skip` is the 0-based offset.
    #[serde(rename = "0")]
    Zero,
    /// `skip` is the 1-based first line.
    #[serde(rename = "1")]
    One,
}

impl<'de> Deserialize<'de> for SkipBase {
    /// `"auto"`, `"0"`, `"1"`, or the numbers 0 and 1 (as `WDGATE_DOCUMENTS_SKIP_BASE=0`
    /// arrives).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(i64),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Text(t) if t == "auto" => Ok(Self::Auto),
            Raw::Text(t) if t == "0" => Ok(Self::Zero),
            Raw::Text(t) if t == "1" => Ok(Self::One),
            Raw::Number(0) => Ok(Self::Zero),
            Raw::Number(1) => Ok(Self::One),
            _ => Err(serde::de::Error::custom("expected \"auto\", 0 or 1")),
        }
    }
}

/// `Wd_File_Sort_Key1` column ids of the REST sort names.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SortKeys {
    /// `sort=updated` (`wd_File_Updated_Value`).
    pub updated: u32,
    /// `sort=version` (`wd_File_Version_Value`).
    pub version: u32,
    /// `sort=size` (`wd_File_Size_Value`).
    pub size: u32,
    /// `sort=description` (`wd_File_Xname_Value`).
    pub description: u32,
    /// `sort=doc_number` (`wd_File_FileName_Value`).
    pub doc_number: u32,
}

impl Default for SortKeys {
    fn default() -> Self {
        Self {
            updated: 5374,
            version: 5376,
            size: 5368,
            description: 5380,
            doc_number: 5348,
        }
    }
}

/// The documents resource.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DocumentsConfig {
    /// Secret that signs search cursors (HMAC-SHA-256), at least 16 characters. Set
    /// it, the same on every replica, for cursors that survive restarts and other
    /// replicas. Unset, the key is derived from `devices.id_key` (HMAC-SHA-256 of that
    /// secret under the fixed label `wdgate documents.id_key v1`, so it is not the
    /// devices key itself), which gives every replica sharing `devices.id_key` (as a
    /// Redis fleet must) the same cursors with no second secret; with neither, a
    /// random key lives as long as the process.
    pub id_key: Option<String>,
    /// Seconds a document's locator (its place in a server-side list) is kept after a
    /// search or lookup showed it.
    pub locator_ttl_secs: u64,
    /// Seconds a search's server-side list is kept open after its last page was read;
    /// then it is closed (CLOSELIST) in the background.
    pub search_ttl_secs: u64,
    /// Seconds a row a search (or a reread) showed answers a read of the document
    /// (`GET /documents/{id}`, its content) as it is; after that a read rereads the
    /// row (one SERVE `rereadrecord.json`), and a row that is no longer there is found
    /// afresh. 0: every read rereads.
    pub reread_after_secs: u64,
    /// Seconds the per-session copy DOWNLOAD prepared (its `fileLoc`) is reused for the
    /// same document, version and update time: range follow-ups and repeated downloads
    /// then cost no DOWNLOAD. A copy the file server no longer has is prepared again.
    pub fileloc_ttl_secs: u64,
    /// Server-side lists one session keeps open; beyond it the least recently used is
    /// closed and its locators dropped.
    pub max_open_lists_per_session: usize,
    /// The answer template of FINDFILES and SORTFILES.
    pub list_template: String,
    /// How the upstream counts `skip`: `auto`, `0` or `1`.
    pub skip_base: SkipBase,
    /// `Wd_File_Sort_Key1` ids of the sort names.
    pub sort_keys: SortKeys,
    /// Seconds a session's cabinets are cached.
    pub cabinets_ttl_secs: u64,
    /// CLOSELIST calls waiting to be sent, in all; beyond it a list is left for LOGOFF
    /// (counted as `dropped`).
    pub close_queue: usize,
    /// Content transfers (downloads) in flight in all; beyond it 503 with `Retry-After`.
    pub max_concurrent_transfers: usize,
    /// Content transfers one session may have in flight; beyond it 429 with
    /// `Retry-After`.
    pub max_transfers_per_session: usize,
    /// Seconds a transfer may go without a body frame from the upstream before both
    /// sides are aborted.
    pub transfer_idle_timeout_secs: u64,
    /// Seconds a transfer may take in all, headers and body (it replaces
    /// `server.request_timeout_secs` on the content routes).
    pub transfer_max_secs: u64,
    /// `Cache-Control` of content answers.
    pub content_cache_control: String,
}

impl Default for DocumentsConfig {
    fn default() -> Self {
        Self {
            id_key: None,
            locator_ttl_secs: 300,
            search_ttl_secs: 300,
            reread_after_secs: 10,
            fileloc_ttl_secs: 300,
            max_open_lists_per_session: 16,
            list_template: "/v4/filelist/fileList.json".to_owned(),
            skip_base: SkipBase::Auto,
            sort_keys: SortKeys::default(),
            cabinets_ttl_secs: 60,
            close_queue: 1024,
            max_concurrent_transfers: 64,
            max_transfers_per_session: 4,
            transfer_idle_timeout_secs: 30,
            transfer_max_secs: 3600,
            content_cache_control: "private, no-store".to_owned(),
        }
    }
}

impl DocumentsConfig {
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| {
            Err(ConfigError::Invalid {
                key: key.to_owned(),
                message: message.to_owned(),
            })
        };
        if self.id_key.as_ref().is_some_and(|k| k.len() < 16) {
            return invalid("documents.id_key", "must be at least 16 characters");
        }
        if self.locator_ttl_secs == 0 {
            return invalid("documents.locator_ttl_secs", "must be above 0");
        }
        if self.reread_after_secs > self.locator_ttl_secs {
            return invalid(
                "documents.reread_after_secs",
                "must be at most documents.locator_ttl_secs",
            );
        }
        if !(1..=86_400).contains(&self.fileloc_ttl_secs) {
            return invalid("documents.fileloc_ttl_secs", "must be between 1 and 86400");
        }
        if self.search_ttl_secs == 0 {
            return invalid("documents.search_ttl_secs", "must be above 0");
        }
        if !(1..=1000).contains(&self.max_open_lists_per_session) {
            return invalid(
                "documents.max_open_lists_per_session",
                "must be between 1 and 1000",
            );
        }
        if !self.list_template.starts_with('/') || self.list_template.contains(['&', '+', '?']) {
            return invalid(
                "documents.list_template",
                "must be a template path starting with / and without & + ?",
            );
        }
        if self.close_queue == 0 {
            return invalid("documents.close_queue", "must be above 0");
        }
        if !(1..=100_000).contains(&self.max_concurrent_transfers) {
            return invalid(
                "documents.max_concurrent_transfers",
                "must be between 1 and 100000",
            );
        }
        if !(1..=self.max_concurrent_transfers).contains(&self.max_transfers_per_session) {
            return invalid(
                "documents.max_transfers_per_session",
                "must be between 1 and documents.max_concurrent_transfers",
            );
        }
        if !(1..=3600).contains(&self.transfer_idle_timeout_secs) {
            return invalid(
                "documents.transfer_idle_timeout_secs",
                "must be between 1 and 3600",
            );
        }
        if !(1..=86_400).contains(&self.transfer_max_secs) {
            return invalid("documents.transfer_max_secs", "must be between 1 and 86400");
        }
        if http::HeaderValue::from_str(&self.content_cache_control).is_err()
            || self.content_cache_control.trim().is_empty()
        {
            return invalid(
                "documents.content_cache_control",
                "must be a non-empty header value",
            );
        }
        let keys = &self.sort_keys;
        for (name, key) in [
            ("updated", keys.updated),
            ("version", keys.version),
            ("size", keys.size),
            ("description", keys.description),
            ("doc_number", keys.doc_number),
        ] {
            if key == 0 {
                return invalid(&format!("documents.sort_keys.{name}"), "must be above 0");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(config: &DocumentsConfig) -> Option<String> {
        match config.validate() {
            Err(ConfigError::Invalid { key, .. }) => Some(key),
            _ => None,
        }
    }

    #[test]
    fn the_defaults_are_valid_and_bad_values_name_their_key() {
        assert_eq!(key_of(&DocumentsConfig::default()), None);
        type Change = Box<dyn Fn(&mut DocumentsConfig)>;
        let cases: Vec<(&str, Change)> = vec![
            (
                "documents.id_key",
                Box::new(|c| c.id_key = Some("short".into())),
            ),
            (
                "documents.locator_ttl_secs",
                Box::new(|c| c.locator_ttl_secs = 0),
            ),
            (
                "documents.search_ttl_secs",
                Box::new(|c| c.search_ttl_secs = 0),
            ),
            (
                "documents.reread_after_secs",
                Box::new(|c| c.reread_after_secs = 301),
            ),
            (
                "documents.fileloc_ttl_secs",
                Box::new(|c| c.fileloc_ttl_secs = 0),
            ),
            (
                "documents.fileloc_ttl_secs",
                Box::new(|c| c.fileloc_ttl_secs = 86_401),
            ),
            (
                "documents.max_open_lists_per_session",
                Box::new(|c| c.max_open_lists_per_session = 0),
            ),
            (
                "documents.list_template",
                Box::new(|c| c.list_template = "x&html=/evil".into()),
            ),
            ("documents.close_queue", Box::new(|c| c.close_queue = 0)),
            (
                "documents.sort_keys.size",
                Box::new(|c| c.sort_keys.size = 0),
            ),
            (
                "documents.max_concurrent_transfers",
                Box::new(|c| c.max_concurrent_transfers = 0),
            ),
            (
                "documents.max_transfers_per_session",
                Box::new(|c| c.max_transfers_per_session = 65),
            ),
            (
                "documents.transfer_idle_timeout_secs",
                Box::new(|c| c.transfer_idle_timeout_secs = 0),
            ),
            (
                "documents.transfer_max_secs",
                Box::new(|c| c.transfer_max_secs = 0),
            ),
            (
                "documents.content_cache_control",
                Box::new(|c| c.content_cache_control = "a\nb".into()),
            ),
        ];
        for (key, change) in cases {
            let mut config = DocumentsConfig::default();
            change(&mut config);
            assert_eq!(key_of(&config).as_deref(), Some(key));
        }
    }

    #[test]
    fn skip_base_reads_as_the_table_says() {
        let read = |text: &str| toml::from_str::<DocumentsConfig>(text).map(|c| c.skip_base);
        assert_eq!(read("skip_base = \"auto\"").ok(), Some(SkipBase::Auto));
        assert_eq!(read("skip_base = \"0\"").ok(), Some(SkipBase::Zero));
        assert_eq!(read("skip_base = \"1\"").ok(), Some(SkipBase::One));
        assert_eq!(read("skip_base = 0").ok(), Some(SkipBase::Zero));
        assert!(read("skip_base = \"2\"").is_err());
        assert!(read("skip_base = 2").is_err());
    }
}
