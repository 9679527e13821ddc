//! Options shared by commands that work on hosts.

use std::time::Duration;

use anyhow::Result;

use v6deploy::workflows::{Feedback, Remote, Settings};

/// How output is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Tables for people.
    Text,
    /// One JSON document on stdout, for machines.
    Json,
}

/// Options of every command that works on hosts.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Hosts worked on at once; 0 means all of them.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub forks: usize,
    /// Stop every host once more than this percentage of hosts failed or was unreachable
    /// (default: never; the others always finish).
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(0..=100))]
    pub max_fail_percent: Option<u8>,
    /// Seconds to wait for a host's SSH to answer.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub connect_timeout: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Only these hosts (addresses in any textual form, or node names).
    #[arg(long, value_delimiter = ',', value_name = "HOST,...")]
    pub hosts: Vec<String>,
}

impl RunArgs {
    /// The runtime and connections of this command, with these options.
    pub fn remote(&self, globals: &super::Globals) -> Result<Remote> {
        let feedback = if self.output == OutputFormat::Json || globals.quiet { Feedback::Silent } else { Feedback::Progress };
        Remote::new(Settings {
            forks: self.forks,
            max_fail_percent: self.max_fail_percent,
            connect_timeout: Duration::from_secs(self.connect_timeout),
            feedback,
            hosts: self.hosts.clone(),
        })
    }
}
