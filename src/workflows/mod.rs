//! Workflows: each lists its steps in order, in one function, and runs them for a command;
//! the command line only parses arguments and prints what a workflow reports.

pub mod certs_remote;
pub mod certs_rotate;
pub mod cluster;
pub mod etcd;
pub mod gather;
pub mod init;
pub mod install;
pub mod install_run;
pub mod kernel;
pub mod membership;
pub mod network;
pub mod node_add;
pub mod node_add_run;
pub mod node_remove;
pub mod node_remove_run;
pub mod push;
pub mod reset;
pub mod unlock;
pub mod remote;
pub mod rotate;

pub use crate::runner::{Change, HostRecap, HostStatus, Mode, Recap};
pub use crate::steps::ComponentOutcome;
pub use remote::{Feedback, Remote, Settings};
