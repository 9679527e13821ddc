//! Writing to stdout without panicking when the reader goes away (`v6deploy inventory | head
//! -1`): `out!` is `out!` that returns the write error, and `main` ends quietly with exit
//! code 0 when that error is a broken pipe.

use std::io::Write as _;

/// `out!` through a locked stdout; `?` returns the write error to the caller.
macro_rules! out {
    () => {
        $crate::cli::out::line(format_args!(""))?
    };
    ($($arg:tt)*) => {
        $crate::cli::out::line(format_args!($($arg)*))?
    };
}

/// `out_raw!` through a locked stdout; `?` returns the write error to the caller.
macro_rules! out_raw {
    ($($arg:tt)*) => {
        $crate::cli::out::raw(format_args!($($arg)*))?
    };
}

/// Writes one line to stdout.
pub fn line(args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_fmt(args)?;
    stdout.write_all(b"\n")
}

/// Writes text to stdout, as it is.
pub fn raw(args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_fmt(args)?;
    stdout.flush()
}

/// The version of every JSON document v6deploy prints (its `"schema"` key; docs/json.md).
/// It changes only when a key is removed or changes meaning; new keys may appear without it.
pub const SCHEMA: u64 = 1;

/// Writes `value`, a JSON object, pretty-printed with `"schema": 1` added.
pub fn json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut value = serde_json::to_value(value)?;
    if let Some(object) = value.as_object_mut() {
        object.insert("schema".to_string(), SCHEMA.into());
    }
    line(format_args!("{}", serde_json::to_string_pretty(&value)?))?;
    Ok(())
}

/// Whether `error` is stdout's reader gone away (EPIPE), which ends the command quietly.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}
