//! wdgate: a REST gateway in front of a Worldox Web server.

pub mod sim;
pub mod upstream;
