//! `v6deploy lab up|down|status`: the local IPv6 lab (and the hidden `exec`, `supervise`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Subcommand;

use v6deploy::lab::{self, DEFAULT_MIRROR, Echo, Flavor, InventoryChange, LabName, Purge, Runner, UpOptions};

use super::run_args::OutputFormat;

/// A local lab of IPv6-only machines (systemd-nspawn, one network namespace each).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  v6deploy lab up                 # 3 machines, 2001:db8:0:1::101..103\n  v6deploy lab up --name k7 --flavor centos7-sim   # machines that look like CentOS 7.8 on kernel 3.10\n  v6deploy lab up --hosts 5       # grow to 5; running machines are left alone\n  v6deploy lab up --name exp      # a second lab on its own bridge and /64\n  v6deploy lab status\n  v6deploy lab down [--purge]\n\nNeeds root and: apt-get install systemd-container debootstrap")]
pub struct Args {
    #[command(subcommand)]
    command: LabCommand,
    #[command(flatten)]
    unused: super::Unused,
}

#[derive(Debug, Subcommand)]
enum LabCommand {
    /// Create the lab, or add the machines it lacks; writes inventories/lab.yaml and .lab/NAME/.
    Up {
        /// Number of machines (1 to 50); a running lab is grown, never shrunk [default: 3].
        #[arg(long, value_name = "N")]
        hosts: Option<u16>,
        #[command(flatten)]
        name: NameArg,
        /// Debian mirror for the one-time base image build.
        #[arg(long, value_name = "URL", default_value = DEFAULT_MIRROR)]
        mirror: String,
        /// What the machines are: debian, or centos7-sim (CentOS 7.8 on kernel 3.10, with
        /// simulated kernel boot and network service; for `kernel upgrade` and ifcfg tests)
        /// [default: the lab's, debian for a new lab].
        #[arg(long, value_enum)]
        flavor: Option<Flavor>,
        /// Where the network addons' upstream source archives are (flannel, cni-plugins,
        /// kubernetes/dns, CoreDNS: see ../shared/lab-sources/README.md); built once and
        /// cached. Without them the lab uses host routes and has no DNS pods [default:
        /// $V6DEPLOY_LAB_SOURCES, else ../shared/lab-sources beside the project or beside the
        /// checkout v6deploy was built from, else the copy an earlier build cached].
        #[arg(long, value_name = "DIR")]
        addon_sources: Option<PathBuf>,
        /// Do not print each command run.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Stop and remove the lab's machines, namespaces, mounts and bridge.
    Down {
        #[command(flatten)]
        name: NameArg,
        /// Remove every lab.
        #[arg(long, conflicts_with = "name")]
        all: bool,
        /// Also remove the lab's key, known_hosts and inventory file.
        #[arg(long)]
        purge: bool,
        /// Do not print each command run.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Show the labs' machines: address, processes, whether SSH answers.
    Status {
        /// Only this lab [default: every lab].
        #[arg(long)]
        name: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Run a command inside a machine (via nsenter), e.g. `lab exec 101 -- systemctl reboot`.
    #[command(hide = true)]
    Exec {
        #[command(flatten)]
        name: NameArg,
        /// The machine: its number (101) or name (lab-101).
        machine: String,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Keep one machine running (started by `lab up`, detached).
    #[command(hide = true)]
    Supervise {
        /// The machine's runtime directory.
        #[arg(long, value_name = "DIR")]
        machine: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct NameArg {
    /// The lab's name: labs side by side each get their own bridge and /64.
    #[arg(long, default_value = lab::DEFAULT_NAME)]
    name: String,
}

impl NameArg {
    fn parse(&self) -> Result<LabName> {
        Ok(LabName::parse(&self.name)?)
    }
}

fn runner(quiet: bool) -> Runner {
    Runner { echo: if quiet { Echo::Quiet } else { Echo::Commands } }
}

fn project() -> Result<PathBuf> {
    std::env::current_dir().context("cannot read the current directory (the project directory for .lab/ and inventories/)")
}

pub fn run(args: &Args) -> Result<ExitCode> {
    match &args.command {
        LabCommand::Up { hosts, name, mirror, flavor, addon_sources, quiet } => up(*hosts, &name.parse()?, mirror, *flavor, addon_sources.clone(), *quiet),
        LabCommand::Down { name, all, purge, quiet } => {
            let purge = if *purge { Purge::Files } else { Purge::KeepFiles };
            let names = if *all { lab::all_names() } else { vec![name.parse()?] };
            for name in names {
                down(&name, purge, *quiet)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        LabCommand::Status { name, output } => status(name.as_deref().map(LabName::parse).transpose()?.as_ref(), *output),
        LabCommand::Exec { name, machine, command } => {
            let code = lab::exec(&name.parse()?, machine, command)?;
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
        }
        LabCommand::Supervise { machine } => {
            lab::supervise(machine)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn up(hosts: Option<u16>, name: &LabName, mirror: &str, flavor: Option<Flavor>, addon_sources: Option<PathBuf>, quiet: bool) -> Result<ExitCode> {
    let options = UpOptions { name: name.clone(), hosts, project: project()?, mirror: mirror.to_string(), flavor, addon_sources };
    let report = lab::up(&runner(quiet), &options).with_context(|| format!("lab up --name {name}"))?;
    let files = &report.files;
    let relative = |path: PathBuf| path.strip_prefix(&files.project).map(Path::to_path_buf).unwrap_or(path);
    out!(
        "lab {} ({}): {} machine(s) on bridge {} ({}, gateway {}), up in {:.1} s",
        report.name,
        report.flavor,
        report.started.len() + report.kept.len(),
        report.name.bridge(),
        report.subnet.net(),
        report.subnet.gateway(),
        report.elapsed.as_secs_f64()
    );
    if !report.started.is_empty() {
        out!("  started: {}", report.started.join(", "));
    }
    if !report.kept.is_empty() {
        out!("  already running, left as they were: {}", report.kept.join(", "));
    }
    if let Some(size) = report.larger_than_asked {
        out!("  the lab has {size} machines; `lab up` never removes machines (`lab down` removes the lab)");
    }
    let inventory = relative(files.inventory());
    match &report.inventory {
        InventoryChange::Created => out!("  wrote {}", inventory.display()),
        InventoryChange::Appended(added) => {
            let added: Vec<String> = added.iter().map(ToString::to_string).collect();
            out!("  appended {} to {}", added.join(", "), inventory.display());
        }
        InventoryChange::Unchanged => out!("  {} already lists every machine", inventory.display()),
    }
    match &report.addons_missing {
        None => out!("  network addons: flannel, CoreDNS and node-cache images in the bundle"),
        Some(why) => out!("  network addons: {why}"),
    }
    let key = relative(files.key());
    let known_hosts = relative(files.known_hosts());
    let first = report.subnet.host(lab::HostNumber::new(1).context("host 1 exists")?);
    out!("  key {}, known_hosts {}", key.display(), known_hosts.display());
    out!();
    out!("Use it:");
    out!(
        "  ssh -i {} -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes root@{first}",
        key.display(),
        known_hosts.display()
    );
    out!("  v6deploy -i {} inventory", inventory.display());
    let name_flag = if report.name.as_str() == lab::DEFAULT_NAME { String::new() } else { format!(" --name {}", report.name) };
    out!("  v6deploy lab status{name_flag}");
    out!("  v6deploy lab down{name_flag}");
    Ok(ExitCode::SUCCESS)
}

fn down(name: &LabName, purge: Purge, quiet: bool) -> Result<()> {
    let report = lab::down(&runner(quiet), name, purge, &project()?).with_context(|| format!("lab down --name {name}"))?;
    out!("lab {}: removed {} machine(s) in {:.1} s", report.name, report.machines, report.elapsed.as_secs_f64());
    match report.purge {
        Purge::Files => out!("  removed {} and {}", report.files.dir().display(), report.files.inventory().display()),
        Purge::KeepFiles => out!(
            "  kept {} and {} (`lab down --purge` removes them)",
            report.files.dir().display(),
            report.files.inventory().display()
        ),
    }
    if report.last {
        out!("  no lab left: dropped the route unreachable {} and its rules", lab::LAB_RANGE);
    }
    Ok(())
}

fn status(name: Option<&LabName>, output: OutputFormat) -> Result<ExitCode> {
    let labs = lab::labs(name)?;
    if output == OutputFormat::Json {
        return status_json(&labs);
    }
    if labs.is_empty() {
        out!("no lab on this host (`v6deploy lab up` creates one)");
        return Ok(ExitCode::SUCCESS);
    }
    for (i, l) in labs.iter().enumerate() {
        if i > 0 {
            out!();
        }
        let subnet = l.record.subnet();
        out!("lab {} ({}) on bridge v6lab-{} ({}), project {}", l.record.name, l.record.flavor, l.record.name, subnet.net(), l.record.project.display());
        out!("{:<12} {:<22} {:<11} {:>10} {:>10} SSH", "MACHINE", "ADDRESS", "STATE", "SUPERVISOR", "NSPAWN");
        for m in &l.machines {
            let pid = |p: Option<u32>| p.map_or("-".to_string(), |p| p.to_string());
            let ssh = if lab::ssh_port_open(m.address, Duration::from_millis(500)) { "yes" } else { "no" };
            out!(
                "{:<12} {:<22} {:<11} {:>10} {:>10} {}",
                m.name,
                m.address.to_string(),
                m.state.word(),
                pid(m.supervisor.map(|p| p.pid)),
                pid(m.nspawn.map(|p| p.pid)),
                ssh
            );
            if let lab::State::Failed(reason) = &m.state {
                out!("  {reason}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `lab status --output json`: the same facts as the table, one document.
fn status_json(labs: &[lab::Lab]) -> Result<ExitCode> {
    let labs: Vec<serde_json::Value> = labs
        .iter()
        .map(|l| {
            let machines: Vec<serde_json::Value> = l
                .machines
                .iter()
                .map(|m| {
                    let failed = if let lab::State::Failed(reason) = &m.state { Some(reason.as_str()) } else { None };
                    serde_json::json!({
                        "name": m.name,
                        "address": m.address,
                        "state": m.state.word(),
                        "failed": failed,
                        "supervisor": m.supervisor.map(|p| p.pid),
                        "nspawn": m.nspawn.map(|p| p.pid),
                        "ssh": lab::ssh_port_open(m.address, Duration::from_millis(500)),
                    })
                })
                .collect();
            let subnet = l.record.subnet();
            serde_json::json!({"name": l.record.name, "flavor": l.record.flavor.to_string(), "bridge": format!("v6lab-{}", l.record.name), "subnet": subnet.net().to_string(), "project": l.record.project, "machines": machines})
        })
        .collect();
    super::out::json(&serde_json::json!({ "labs": labs }))?;
    Ok(ExitCode::SUCCESS)
}
