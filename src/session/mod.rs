//! Gateway sessions: opaque tokens and the stores that map them to Worldox SIDs.
//!
//! Only this module holds a SID; it leaves only into `upstream/`.

pub mod memory;
pub mod store;
pub mod token;

pub use memory::MemoryStore;
pub use store::{Session, SessionStore, StoreError};
pub use token::{Token, TokenHash};
