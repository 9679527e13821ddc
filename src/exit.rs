//! The process's exit codes, in one place: `main` and every command return these, never a
//! bare number.
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | everything asked was done (or, in a dry run, would be) |
//! | 1 | a usage, inventory or local error (bad flags too); nothing was done on the hosts because of it |
//! | 2 | a host failed or was unreachable, or a check found a problem |
//! | 130 | interrupted (Ctrl-C) |

/// Everything asked was done (or, in a dry run, would be).
pub const OK: u8 = 0;

/// A usage, inventory or local error (bad flags, unreadable inventory or store, nothing done
/// on the hosts because of it).
pub const USAGE: u8 = 1;

/// A host failed or was unreachable, or a check found a problem (a failed preflight check, a
/// kernel below the minimum, an expired or mismatched certificate).
pub const HOST_FAILED: u8 = 2;

/// Interrupted by Ctrl-C (128 + SIGINT, as shells report it).
pub const INTERRUPTED: u8 = 130;

/// An error about hosts rather than about the command line or this machine (e.g. `node add`
/// with a host it cannot reach): it ends the command with [`HOST_FAILED`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HostsError(pub String);

/// The run was interrupted (Ctrl-C) before it finished: it ends the command with [`INTERRUPTED`].
#[derive(Debug, thiserror::Error)]
#[error("interrupted {0}")]
pub struct Interrupted(pub &'static str);

/// The exit code for an error that ended a command: [`INTERRUPTED`], [`HOST_FAILED`] for a
/// [`HostsError`] anywhere in its chain, else [`USAGE`].
pub fn code_for(error: &anyhow::Error) -> u8 {
    if error.chain().any(|cause| cause.is::<Interrupted>()) {
        INTERRUPTED
    } else if error.chain().any(|cause| cause.is::<HostsError>()) {
        HOST_FAILED
    } else {
        USAGE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_maps_to_its_exit_code_through_context() {
        let hosts = anyhow::Error::new(HostsError("cannot reach 2001:db8::1".into())).context("node add");
        assert_eq!(code_for(&hosts), HOST_FAILED);
        assert_eq!(code_for(&anyhow::Error::new(Interrupted("while connecting")).context("install")), INTERRUPTED);
        assert_eq!(code_for(&anyhow::anyhow!("bad inventory")), USAGE);
    }
}
