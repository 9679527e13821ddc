//! Workflows: each lists its steps in order, in one function.

pub mod cluster;
pub mod install;
pub mod kernel;
pub mod network;
pub mod node_add;
pub mod rotate;
