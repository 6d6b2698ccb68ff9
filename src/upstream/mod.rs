//! The Worldox side: CGI syntax, envelope parsing, the status table and the HTTP client.
//!
//! This module knows Worldox and does the network I/O; it knows nothing of REST routes.

pub mod cgi;
pub mod fields;
