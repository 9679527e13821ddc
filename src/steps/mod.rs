//! Steps: one file each, named for what it does. Workflows (`crate::workflows`) list them in order.

mod gather_facts;
mod push_files;

pub use gather_facts::{FactsStore, GatherFacts};
pub use push_files::PushFiles;
