//! v6deploy: deploys Kubernetes and its middleware onto IPv6 single-stack hosts.
#![forbid(unsafe_code)]

pub mod inventory;
pub mod kernel;
pub mod lab;
pub mod net;
