//! The process's exit codes, in one place: `main` and every command return these, never a
//! bare number.

/// Everything asked was done (or, in a dry run, would be).
pub const OK: u8 = 0;

/// A usage, inventory or local error (bad flags, unreadable inventory or store, nothing done
/// on the hosts because of it).
pub const USAGE: u8 = 1;

/// A host failed or was unreachable, or a check found a problem (a failed preflight check, a
/// kernel below the minimum, an expired or mismatched certificate).
pub const HOST_FAILED: u8 = 2;
