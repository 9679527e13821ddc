//! The `v6deploy` command line. Library modules return typed errors; here they become
//! `anyhow` errors, printed once with their whole cause chain, and an exit code.
#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(v6deploy::exit::USAGE)
        }
    }
}
