//! What is not about clusters: the log subscriber behind `-v`/`-q`/`RUST_LOG`, shell
//! completions and the manual page.

use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;
use tracing_subscriber::EnvFilter;

use super::Unused;

/// `v6deploy completions SHELL`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  v6deploy completions bash > /etc/bash_completion.d/v6deploy\n  v6deploy completions zsh > \"${fpath[1]}/_v6deploy\"\n  v6deploy completions fish > ~/.config/fish/completions/v6deploy.fish")]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
    #[command(flatten)]
    unused: Unused,
}

/// `v6deploy man`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  v6deploy man | man -l -\n  v6deploy man > /usr/local/share/man/man1/v6deploy.1")]
pub struct ManArgs {
    #[command(flatten)]
    unused: Unused,
}

/// Installs the subscriber for `tracing` events (stderr): warnings by default, errors only
/// with `-q`, v6deploy's own informational events with `-v`, debug detail with `-vv`;
/// `RUST_LOG` wins over all of them. Events carry the host they concern (the runner's span
/// per host, or a `host` field).
pub fn init_tracing(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "warn,v6deploy=info",
        (false, 2) => "info,v6deploy=debug",
        _ => "debug,v6deploy=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Fails only when a subscriber is already installed (never, in this process).
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(verbose > 1).without_time().try_init();
}

/// Prints the completion script for a shell.
pub fn completions(args: &CompletionsArgs) -> Result<ExitCode> {
    let mut command = super::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "v6deploy", &mut script);
    out_raw!("{}", String::from_utf8_lossy(&script));
    Ok(ExitCode::SUCCESS)
}

/// Prints the manual page (roff), the subcommands included.
pub fn man(_: &ManArgs) -> Result<ExitCode> {
    let mut page = Vec::new();
    clap_mangen::Man::new(super::Cli::command()).render(&mut page)?;
    // The subcommands, each as a section of the one page.
    for sub in super::Cli::command().get_subcommands().filter(|s| !s.is_hide_set()) {
        let mut section = Vec::new();
        clap_mangen::Man::new(sub.clone()).render_description_section(&mut section)?;
        let text = String::from_utf8_lossy(&section).replacen(".SH DESCRIPTION", &format!(".SH \"V6DEPLOY {}\"", sub.get_name().to_uppercase()), 1);
        page.extend_from_slice(text.as_bytes());
        let mut options = Vec::new();
        clap_mangen::Man::new(sub.clone()).render_options_section(&mut options)?;
        page.extend_from_slice(&options);
    }
    out_raw!("{}", String::from_utf8_lossy(&page));
    Ok(ExitCode::SUCCESS)
}
