//! `v6deploy -i FILE kubeconfig --user NAME [--group G]`: a kubeconfig of a user's own, with a
//! client certificate issued by the cluster's CA, instead of a copy of `admin.conf`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::run_args::OutputFormat;

use v6deploy::inventory::Loaded;
use v6deploy::pki::{MASTERS_GROUP, Store, SystemNames, UserName, issue_user, outside_server, parse_cert, parse_group, plan_user};
use v6deploy::render::{Credentials, Kubeconfig, Templates};

/// Issue a client certificate for a user (CN = the user, O = the group) from the cluster's
/// CA and print a kubeconfig with it, pointing at the first control plane over IPv6. The
/// certificate is recorded in the store (users/<name>.crt); the key is only in the
/// kubeconfig. Grant the user rights with RBAC (a RoleBinding to the user or the group), or
/// give the group system:masters for a cluster administrator. `--dry-run` checks the CA
/// and says what would be issued, issuing nothing.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  v6deploy -i inventories/lab.yaml kubeconfig --user alice --group system:masters > alice.conf\n  v6deploy -i inventories/lab.yaml kubeconfig --user ci-bot --group deployers --days 30 --file ci-bot.conf\n  v6deploy -i inventories/lab.yaml kubeconfig --user ci-bot --dry-run")]
pub struct Args {
    /// The user name (the certificate's CN).
    #[arg(long, value_name = "NAME")]
    user: String,
    /// The user's group (the certificate's O), e.g. a group bound with RBAC, or system:masters
    /// (every right on the cluster, which RBAC cannot take away: only expiry or a CA rotation
    /// ends it).
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    /// Allow a user or group name of Kubernetes' own identities (`system:...`: a component, a
    /// node, `system:anonymous`; the group system:masters needs no flag). The certificate then
    /// acts as that identity.
    #[arg(long)]
    allow_system_name: bool,
    /// Days the certificate is valid.
    #[arg(long, default_value_t = 365, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=3650))]
    days: u32,
    /// Write the kubeconfig to FILE (0600) instead of standard output.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Check the CA and show what would be issued and where it would go; issue nothing.
    #[arg(long)]
    dry_run: bool,
    /// `text`: the kubeconfig (or, with --file or --dry-run, what was done); `json`: one
    /// document with the certificate's subject, serial and end date, the server, and the
    /// kubeconfig itself unless --file took it.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

/// `--output json` (docs/json.md).
#[derive(Serialize)]
struct Report<'a> {
    user: &'a str,
    group: Option<&'a str>,
    subject: String,
    /// Absent on a dry run.
    serial: Option<String>,
    not_after: String,
    server: String,
    /// The store's copy of the certificate.
    recorded: String,
    file: Option<String>,
    dry_run: bool,
    /// The kubeconfig (it holds the key): absent with --file or on a dry run.
    kubeconfig: Option<String>,
}

pub fn run(args: &Args, loaded: &Loaded, _globals: &super::Globals) -> Result<ExitCode> {
    let inv = &loaded.inventory;
    let system = if args.allow_system_name { SystemNames::Allow } else { SystemNames::Refuse };
    let user = UserName::parse(&args.user, system)?;
    let group = args.group.as_deref().map(|g| parse_group(g, system)).transpose()?;
    if group.as_deref() == Some(MASTERS_GROUP) {
        eprintln!(
            "note: --group {MASTERS_GROUP} grants every right on the cluster, and RBAC cannot take it away: only the certificate's expiry (--days {}) or a CA rotation ends it; prefer a group bound to a narrower role",
            args.days
        );
    }
    if inv.first_control_plane().is_none() {
        bail!("the inventory has no control-plane host");
    }
    let store = Store::for_inventory(inv);
    let root = store.root().display().to_string();
    let server = outside_server(inv);
    let now = OffsetDateTime::now_utc();
    let group = group.as_deref();
    let report = |subject: String, serial: Option<String>, not_after: OffsetDateTime, recorded: String, kubeconfig: Option<String>| Report {
        user: &args.user,
        group,
        subject,
        serial,
        not_after: not_after.format(&Rfc3339).unwrap_or_default(),
        server: server.clone(),
        recorded,
        file: args.file.as_ref().map(|f| f.display().to_string()),
        dry_run: args.dry_run,
        kubeconfig,
    };
    if args.dry_run {
        let plan = plan_user(&store, &user, group, args.days, now).with_context(|| format!("check the CA in {root} for {}", args.user))?;
        let recorded = plan.recorded.display().to_string();
        if args.output == OutputFormat::Json {
            return super::out::json(&report(plan.subject, None, plan.not_after, recorded, None)).map(|()| ExitCode::SUCCESS);
        }
        let target = args.file.as_ref().map_or("standard output".to_string(), |f| format!("{} (0600)", f.display()));
        out!("dry run: nothing issued, nothing written");
        out!("would issue   a client certificate {} from the kubernetes CA of {root}, valid {} days (until {})", plan.subject, args.days, plan.not_after.date());
        out!("would record  the certificate in {recorded}");
        out!("would write   a kubeconfig for {server} to {target}");
        return Ok(ExitCode::SUCCESS);
    }
    let store = store.lock(&mut |holder| eprintln!("{root} is locked by {holder}; waiting for it"))?;
    let issued = issue_user(&store, &user, group, args.days, now).with_context(|| format!("issue a certificate for {} from {root}", args.user))?;
    let info = parse_cert(issued.cert_pem.as_bytes()).map_err(|e| anyhow::anyhow!("the certificate just issued: {e}"))?;
    let recorded = format!("{root}/users/{user}.crt");
    let credentials = Credentials::embedded(&issued.ca_pem, issued.cert_pem.as_bytes(), issued.key_pem.as_bytes());
    let kubeconfig = Kubeconfig { cluster_name: inv.cluster.name.to_string(), server: server.clone(), user: args.user.clone(), credentials };
    let text = kubeconfig.render(&Templates::embedded()?, "the kubeconfig")?;
    if let Some(file) = &args.file {
        v6deploy::localfs::write_atomic(file, text.as_bytes(), 0o600).with_context(|| format!("write {}", file.display()))?;
    }
    let subject = info.subject.to_string();
    match (args.output, &args.file) {
        (OutputFormat::Json, file) => super::out::json(&report(subject, Some(info.serial), info.not_after, recorded, file.is_none().then_some(text)))?,
        (OutputFormat::Text, Some(file)) => {
            eprintln!("wrote {} for {} (certificate {subject}, serial {}, recorded in {recorded}, valid until {})", file.display(), args.user, info.serial, info.not_after.date())
        }
        (OutputFormat::Text, None) => out_raw!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
