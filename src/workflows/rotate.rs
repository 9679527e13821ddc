//! Certificate rotation: the local part (backup, reissue; for a CA rotation, its phases) is
//! done by `pki` before each rollout; the rollout is this list of steps.

use std::sync::Arc;

use crate::runner::Step;
use crate::steps::{RotateHost, RotateState};

/// The steps of one rollout of certificates from the store: one host at a time.
pub fn steps(state: &Arc<RotateState>) -> Vec<Box<dyn Step>> {
    vec![Box::new(RotateHost { state: state.clone() })]
}
