//! The Worldox simulator.
