//! Workflows: each lists its steps in order, in one function.

pub mod install;
pub mod node_add;
pub mod rotate;
