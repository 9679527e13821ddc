//! Operations: pure functions from facts (what a host has) and desired state to what must be
//! written or run. Steps call them and send the result through the gate.

pub mod hosts_file;
pub mod ifcfg;
pub mod kernel;
pub mod units;
