//! The `v6deploy` command line. Library modules return typed errors; here they become
//! `anyhow` errors, printed once with their whole cause chain, and an exit code
//! (`v6deploy::exit`: 0 ok, 1 usage or local error, clap's too, 2 a host failed, 130
//! interrupted).
#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

use clap::Parser;

use v6deploy::exit;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(error) => {
            // --help and --version print to stdout and succeed; argument errors exit 1, not
            // clap's 2 (2 means a host failed).
            let code = if error.use_stderr() { exit::USAGE } else { exit::OK };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    match cli::run(args) {
        Ok(code) => code,
        Err(error) if cli::out::is_broken_pipe(&error) => ExitCode::from(exit::OK),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(exit::code_for(&error))
        }
    }
}
