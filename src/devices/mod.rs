//! Two-factor devices on the gateway's side: stable ids, the per-session listing
//! cache, and pending verifications. No HTTP and no CGI here.

pub mod ids;
pub mod listing;
pub mod shared;
pub mod verifications;

pub use ids::IdKey;
pub use listing::{Change, Device, Devices, ListingCache, LoadedAt};
pub use shared::SharedListings;
pub use verifications::{ClaimError, Outcome, Settled, Stage, Status, Verification, Verifications};
