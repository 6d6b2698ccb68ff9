//! The Worldox side: CGI syntax, envelope parsing, the status table and the HTTP client.
//!
//! This module knows Worldox and does the network I/O; it knows nothing of REST routes.

pub mod auth;
pub mod breaker;
pub mod cgi;
pub mod client;
pub mod documents;
pub mod envelope;
pub mod fields;
pub mod files;
pub mod passthrough;
mod pool;
pub mod sid;
pub mod status;
pub mod twofa;

pub use client::{Call, Client, Error};
pub use sid::Sid;
