//! `v6deploy -i FILE kubeconfig --user NAME [--group G]`: a kubeconfig of a user's own, with a
//! client certificate issued by the cluster's CA, instead of a copy of `admin.conf`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use time::OffsetDateTime;

use v6deploy::inventory::Loaded;
use v6deploy::pki::{Store, issue_user, outside_server, valid_user_name};
use v6deploy::render::{Credentials, Kubeconfig, Templates};

/// Issue a client certificate for a user (CN = the user, O = the group) from the cluster's
/// CA and print a kubeconfig with it, pointing at the first control plane over IPv6. The
/// certificate is recorded in the store (users/<name>.crt); the key is only in the
/// kubeconfig. Grant the user rights with RBAC (a RoleBinding to the user or the group), or
/// give the group system:masters for a cluster administrator.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  v6deploy -i inventories/lab.yaml kubeconfig --user alice --group system:masters > alice.conf\n  v6deploy -i inventories/lab.yaml kubeconfig --user ci-bot --group deployers --days 30 --file ci-bot.conf")]
pub struct Args {
    /// The user name (the certificate's CN).
    #[arg(long, value_name = "NAME")]
    user: String,
    /// The user's group (the certificate's O), e.g. system:masters.
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    /// Days the certificate is valid.
    #[arg(long, default_value_t = 365, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=3650))]
    days: u32,
    /// Write the kubeconfig to FILE (0600) instead of standard output.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
}

pub fn run(args: &Args, loaded: &Loaded, _globals: &super::Globals) -> Result<ExitCode> {
    let inv = &loaded.inventory;
    for (what, name) in [("--user", Some(&args.user)), ("--group", args.group.as_ref())] {
        if let Some(name) = name.filter(|n| !valid_user_name(n)) {
            bail!("{what} {name:?}: use 1 to 64 printable characters without spaces, not starting with '-'");
        }
    }
    if inv.first_control_plane().is_none() {
        bail!("the inventory has no control-plane host");
    }
    let store = Store::for_inventory(inv);
    let root = store.root().display().to_string();
    let store = store.lock(&mut |holder| eprintln!("{root} is locked by {holder}; waiting for it"))?;
    let issued = issue_user(&store, &args.user, args.group.as_deref(), args.days, OffsetDateTime::now_utc()).with_context(|| format!("issue a certificate for {} from {root}", args.user))?;
    let credentials = Credentials::embedded(&issued.ca_pem, issued.cert_pem.as_bytes(), issued.key_pem.as_bytes());
    let kubeconfig = Kubeconfig { cluster_name: inv.cluster.name.to_string(), server: outside_server(inv), user: args.user.clone(), credentials };
    let text = kubeconfig.render(&Templates::embedded()?, "the kubeconfig")?;
    match &args.file {
        Some(file) => {
            v6deploy::localfs::write_atomic(file, text.as_bytes(), 0o600).with_context(|| format!("write {}", file.display()))?;
            eprintln!("wrote {} for {} (certificate recorded in {root}/users/{}.crt, valid {} days)", file.display(), args.user, args.user, args.days);
        }
        None => out_raw!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
