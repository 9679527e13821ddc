//! v6deploy: deploys Kubernetes and its middleware onto IPv6 single-stack hosts.
#![forbid(unsafe_code)]

pub mod bundle;
pub mod checks;
pub mod components;
pub mod desired;
pub mod exit;
pub mod facts;
pub mod hash_cache;
pub mod inventory;
pub mod kernel;
pub mod lab;
pub mod lint;
pub mod localfs;
pub mod net;
pub mod ops;
pub mod pki;
pub mod render;
pub mod runner;
pub mod shell;
pub mod steps;
pub mod transport;
pub mod workflows;
