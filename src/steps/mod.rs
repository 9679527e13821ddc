//! Steps: one file each, named for what it does. Workflows (`crate::workflows`) list them in order.

mod gather_facts;

pub use gather_facts::{FactsStore, GatherFacts};
