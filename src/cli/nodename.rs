//! `v6deploy nodename ADDR` / `v6deploy nodename --decode NAME`.

use std::process::ExitCode;

use anyhow::Result;

use v6deploy::net::{NodeName, parse_host_address};

/// Encode an address as the node name the kubelet registers, or decode one.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  v6deploy nodename 2002:db8:0:1::101\n  v6deploy nodename --decode 2002.0db8.0000.0001.0000.0000.0000.0101")]
pub struct Args {
    /// An IPv6 address in any textual form, or with --decode an encoded node name.
    #[arg(value_name = "ADDR|NAME")]
    value: String,
    /// Decode a node name back to its address.
    #[arg(long)]
    decode: bool,
    #[command(flatten)]
    unused: super::Unused,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    if args.decode {
        out!("{}", NodeName::decode(&args.value)?);
    } else {
        out!("{}", NodeName::encode(parse_host_address(&args.value)?));
    }
    Ok(ExitCode::SUCCESS)
}
