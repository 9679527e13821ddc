//! Typed reads: every read-only question a step asks a host, as a value. A `Query` is what the
//! run's snapshot keys its answers by (see `runner::Read::Query`); its `script` is what runs on
//! the host. The constructors (`Query::service_state`, ...) pair a query with the pure parser
//! of its output into a typed answer (`Ask<T>`), so a step never reads raw shell output.

use std::net::Ipv6Addr;

use super::{BootEntry, EtcdMember, Facts, FactsError, InstalledKernel, parse_boot_default, parse_boot_entries, parse_installed_kernels, parse_member_list, parse_raft_indexes, parse_sections};
use crate::transport::Output;
use crate::shell::{command, quote};

/// Where a host records the services whose restart is due, one file each listing the
/// changed files they read.
pub const PENDING_DIR: &str = "/var/lib/v6deploy/restart-pending";

/// One read-only question to a host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Query {
    /// Every fact (`gather::SCRIPT`).
    Facts,
    /// A service's pending restart record (see `PENDING_DIR`) and whether it is active.
    ServiceState(String),
    /// Whether a path exists (e.g. a bootstrap marker such as etcd's data dir).
    MarkerExists(String),
    /// Which of these kernel modules this kernel lacks (neither loaded, built in, nor its
    /// feature offered otherwise), and whether it can load them.
    MissingModules(Vec<String>),
    /// GRUB's entries and default, read now.
    Boot,
    /// The kernels rpm knows of one package.
    InstalledKernels(String),
    /// The running kernel (`uname -r`).
    KernelRelease,
    /// The id of the running boot.
    BootId,
    /// The members of the etcd cluster, asked at these endpoints.
    EtcdMembers(Vec<Ipv6Addr>),
    /// The raft index of each of these etcd endpoints.
    EtcdStatus(Vec<Ipv6Addr>),
    /// How each of these etcd endpoints answers (`endpoint health`, else `endpoint status`),
    /// one by one.
    EtcdHealth(Vec<Ipv6Addr>),
    /// The routes to these peers, and the default routes from router advertisements.
    PeerRoutes(Vec<Ipv6Addr>),
    /// A service's health check script, retried on the host for up to `seconds`; the unit
    /// must not restart meanwhile, but once when its journal says it exited by design
    /// (`by_design`, see [`crate::components::Service::exits_by_design`]).
    Health { unit: String, check: String, seconds: u64, by_design: Option<&'static str> },
    /// A service's health check tried once, now (for the run's snapshot).
    HealthNow { unit: String, check: String },
    /// The last lines of a unit's journal.
    Journal { unit: String, lines: u32 },
    /// The text of a small record file (empty when there is none).
    Record(String),
    /// The image references containerd's `k8s.io` namespace holds.
    Images,
    /// The Node objects' names and pod subnets, through the API server of the control plane
    /// asking.
    NodePodCidrs,
    /// Whether the addons' workloads rolled out (`components::ready_script`: it waits on the
    /// control plane asking, through its own API server).
    AddonsReady(String),
    /// Which of these paths exist (one ending in `*`: every match), and these units' state.
    Leftovers { paths: Vec<String>, units: Vec<String> },
    /// A script as is: only the snapshot's own tests need one that reads its stdin.
    #[cfg(test)]
    Script(String),
}

/// Why an answer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The facts output lacks a section.
    #[error(transparent)]
    Facts(#[from] FactsError),
    /// etcdctl's JSON did not have the expected shape.
    #[error(transparent)]
    Etcd(#[from] serde_json::Error),
}

/// A query together with the parser of its answer.
#[derive(Debug, Clone)]
pub struct Ask<T> {
    query: Query,
    parse: fn(&Output) -> Result<T, QueryError>,
}

impl<T> Ask<T> {
    /// What is asked (the snapshot's key).
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// The answer in `output` (the script's stdout and exit status).
    pub fn parse(&self, output: &Output) -> Result<T, QueryError> {
        (self.parse)(output)
    }
}

/// A service's pending restarts and state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceState {
    pub active: bool,
    /// Files recorded as changed since its last restart, by earlier runs.
    pub pending: Vec<String>,
}

/// Kernel modules whose features the kernel does not offer yet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MissingModules {
    /// Not loaded, and `modprobe` can load them.
    pub loadable: Vec<String>,
    /// The kernel lacks them: not loaded, not built in, not loadable (no module tree for the
    /// running kernel, or no such module), and their feature does not work here.
    pub absent: Vec<String>,
}

/// GRUB's entries and the release it boots next.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Boot {
    pub entries: Vec<BootEntry>,
    pub default: Option<String>,
}

/// The result of a health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Healthy,
    /// Healthy after systemd restarted it once during the wait for an exit by design, which
    /// this says.
    HealthyAfterRestart(String),
    /// Still failing when the time was up, with the last attempt's output.
    Unhealthy(String),
}

/// The addons' workloads: those Ready (name, "ready/wanted" pods), and why the first one
/// that is not, is not.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddonsReady {
    pub ready: Vec<(String, String)>,
    pub failure: Option<String>,
}

/// Parses `NAME PODCIDR` lines (the CIDR missing or unparsable: `None`).
pub fn parse_node_pod_cidrs(output: &str) -> Vec<(String, Option<ipnet::Ipv6Net>)> {
    output.lines().filter_map(|l| {
        let mut words = l.split_whitespace();
        let name = words.next()?.to_string();
        Some((name, words.next().and_then(|c| c.parse().ok())))
    }).collect()
}

/// The lines of a journal that say why a service failed, for an error message: the last
/// `wanted` lines that look like errors (`error`, `fatal`, `failed`, `unknown flag`, klog's
/// `E`/`F` lines), each once, then the last line; all of it when nothing looks like an
/// error. A crash-looping Kubernetes component prints its error above a long usage text, so
/// the journal's last lines alone would show only the usage.
pub fn journal_excerpt(journal: &str, wanted: usize) -> String {
    let lines: Vec<&str> = journal.lines().filter(|l| !l.trim().is_empty()).collect();
    let message = |l: &str| l.split_once("]: ").map_or(l, |(_, m)| m).to_string();
    let is_error = |l: &&&str| {
        let text = message(l);
        let lower = text.to_lowercase();
        ["error", "fatal", "failed", "unknown flag", "panic"].iter().any(|w| lower.contains(w)) || text.starts_with('E') && text.get(1..5).is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit())) || text.starts_with('F') && text.get(1..5).is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit()))
    };
    let mut picked: Vec<&str> = Vec::new();
    for line in lines.iter().filter(is_error).rev() {
        if picked.len() == wanted {
            break;
        }
        if !picked.iter().any(|p| message(p) == message(line)) {
            picked.push(line);
        }
    }
    if picked.is_empty() {
        return lines[lines.len().saturating_sub(wanted)..].join("\n");
    }
    picked.reverse();
    if let Some(last) = lines.last().filter(|l| !picked.contains(l)) {
        picked.push(last);
    }
    picked.join("\n")
}

/// Answers `Query::MissingModules` for the modules in `$@`, leaving nothing behind. A module
/// is there (no line) when loaded or built in (`/sys/module/M`, which a built-in module without
/// parameters lacks, or `modules.builtin`); else `load M` when `modprobe` can load it; else
/// there when the kernel offers its feature: `shown` reads /proc (the bridge's ip6tables switch,
/// the filesystem list, ip6tables' table list, conntrack's sysctl), `configured` reads
/// `/proc/config.gz`, and `works` tries the feature in a scratch network namespace that dies
/// with its process (`unshare -n`): an IPv6 vxlan device, a rule appended to the ip6tables
/// table (not a listing: iptables-nft lists tables the kernel never made). What none of them
/// finds is `absent M`; without `unshare`, only /proc and the config can tell. The probes run
/// only for what `modprobe` cannot load, so they never make the kernel load a module.
const MISSING_MODULES_SCRIPT: &str = r#"shown() { case $1 in
 br_netfilter) [ -e /proc/sys/net/bridge/bridge-nf-call-ip6tables ];;
 overlay) grep -qw overlay /proc/filesystems;;
 ip6_tables) [ -e /proc/net/ip6_tables_names ];;
 ip6table_filter|ip6table_nat|ip6table_mangle) grep -qx "${1#ip6table_}" /proc/net/ip6_tables_names;;
 nf_conntrack) [ -e /proc/sys/net/netfilter/nf_conntrack_max ] || [ -e /proc/net/nf_conntrack ];;
 *) false;;
 esac 2>/dev/null; }
configured() { case $1 in
 br_netfilter) c=BRIDGE_NETFILTER;; overlay) c=OVERLAY_FS;; vxlan) c=VXLAN;; ip6_tables) c=IP6_NF_IPTABLES;;
 ip6table_filter) c=IP6_NF_FILTER;; ip6table_nat) c=IP6_NF_NAT;; ip6table_mangle) c=IP6_NF_MANGLE;; nf_conntrack) c=NF_CONNTRACK;; *) return 1;;
 esac; zcat /proc/config.gz 2>/dev/null | grep -qx "CONFIG_$c=y"; }
works='for m; do case $m in
 vxlan) ip -6 link add v6deploy-probe type vxlan id 1 dstport 4789 local ::1;;
 ip6_tables|ip6table_filter) ip6tables -w -t filter -A INPUT -j ACCEPT;;
 ip6table_nat) ip6tables -w -t nat -A POSTROUTING -j ACCEPT;;
 ip6table_mangle) ip6tables -w -t mangle -A PREROUTING -j ACCEPT;;
 *) false;;
 esac >/dev/null 2>&1 && printf " %s " "$m"; done'
d=/lib/modules/$(uname -r); rest=
for m; do
 [ -d "/sys/module/$m" ] && continue
 [ -f "$d/modules.builtin" ] && grep -q "/$m\.ko\$" "$d/modules.builtin" && continue
 if [ -d "$d" ] && modprobe -n -q "$m" 2>/dev/null; then echo "load $m"; continue; fi
 shown "$m" || configured "$m" || rest="$rest $m"
done
[ -n "$rest" ] || exit 0
ok=$(unshare -n sh -c "$works" sh $rest 2>/dev/null)
for m in $rest; do case $ok in *" $m "*) ;; *) echo "absent $m";; esac; done"#;

/// Reads GRUB's entries and default.
const BOOT_SCRIPT: &str = "echo @@boot-entries; grubby --info=ALL 2>/dev/null; echo @@boot-default; grubby --default-kernel 2>/dev/null; echo @@grubenv; grub2-editenv list 2>/dev/null; true";

impl Query {
    /// The read-only script that answers the query.
    pub fn script(&self) -> String {
        self.script_with(&|unit| format!("systemctl is-active --quiet {}", quote(unit)))
    }

    /// The unit whose state the script tests, if any (see [`Query::script_with`]).
    pub fn unit_tested(&self) -> Option<&str> {
        match self {
            Query::ServiceState(unit) | Query::HealthNow { unit, .. } => Some(unit),
            _ => None,
        }
    }

    /// The script, with `is_active(unit)` as the shell test of whether the unit runs: the run's
    /// snapshot asks systemd once for every unit its queries test (each `systemctl` costs a
    /// host ~4 ms of CPU; a worker's snapshot asked it 8 times, 18 % of its CPU) and gives
    /// the queries a test of the answer.
    pub fn script_with(&self, is_active: &dyn Fn(&str) -> String) -> String {
        match self {
            Query::Facts => super::SCRIPT.to_string(),
            // The record is read by the shell itself (no process when, as usual, there is none).
            Query::ServiceState(name) => format!(
                "f={}; if [ -f \"$f\" ]; then while IFS= read -r l || [ -n \"$l\" ]; do printf '%s\\n' \"$l\"; done < \"$f\"; fi; if {}; then echo active; else echo inactive; fi",
                quote(&format!("{PENDING_DIR}/{name}")),
                is_active(name)
            ),
            Query::MarkerExists(path) => format!("test -e {}", quote(path)),
            Query::MissingModules(modules) => format!("set -- {}\n{MISSING_MODULES_SCRIPT}", command(modules)),
            Query::Boot => BOOT_SCRIPT.to_string(),
            Query::InstalledKernels(package) => format!("rpm -q {} --qf '%{{NAME}} %{{VERSION}}-%{{RELEASE}}.%{{ARCH}}\\n'", quote(package)),
            Query::KernelRelease => "uname -r".to_string(),
            Query::BootId => "cat /proc/sys/kernel/random/boot_id".to_string(),
            Query::EtcdMembers(endpoints) => super::etcdctl(endpoints, &["member", "list", "-w", "json"]),
            Query::EtcdStatus(endpoints) => super::etcdctl(endpoints, &["endpoint", "status", "-w", "json"]),
            Query::PeerRoutes(peers) => super::peer_routes_script(peers),
            Query::EtcdHealth(endpoints) => endpoints
                .iter()
                .map(|e| {
                    let (health, status) = (super::etcdctl(&[*e], &["endpoint", "health"]), super::etcdctl(&[*e], &["endpoint", "status"]));
                    format!("if {health} >/dev/null 2>&1; then echo healthy {e}; elif {status} >/dev/null 2>&1; then echo running {e}; else echo down {e}; fi")
                })
                .collect::<Vec<_>>()
                .join("; "),
            // The last attempt's output is kept in a variable: checking health writes nothing on
            // the host. A unit that restarted meanwhile (systemd's NRestarts grew: it crashed
            // and came back) failed, whatever the check says, and the wait ends there (a
            // crash loop is not waited out); systemd before 235 has no NRestarts, and then both
            // counts are empty. Once, a restart after an exit by design (its journal of the
            // last 3 minutes has the `by_design` line) is waited out: the new process must
            // pass the check, and the answer says so.
            // Tried once (the run's snapshot): no wait, so no restart to watch for.
            // A unit that is not active is not asked (its check would wait out its timeouts).
            Query::HealthNow { unit, check } => format!(
                "{} || {{ echo {} not active; exit 1; }}; out=$({{ {check}\n}} 2>&1) || {{ echo \"$out\"; exit 1; }}",
                is_active(unit),
                quote(unit),
            ),
            Query::Health { unit, check, seconds, by_design } => {
                let unit = quote(unit);
                let forgive = by_design.map_or(String::new(), |line| {
                    format!(
                        "if [ -z \"$forgiven\" ] && journalctl -u {unit} --since=-3min -o cat --no-pager 2>/dev/null | grep -qF {line}; then \
                         forgiven=\"{unit} restarted once during the check, after it exited by design ({text}), and is healthy again\"; n0=$n1; continue; fi; ",
                        line = quote(line),
                        text = line.replace(['"', '\\', '$', '`'], "")
                    )
                });
                format!(
                    "n() {{ systemctl show -p NRestarts {unit} 2>/dev/null | cut -d= -f2; }}; n0=$(n); forgiven=; \
                     end=$(($(date +%s) + {seconds})); while :; do \
                     if out=$({check} 2>&1); then ok=1; else ok=; fi; n1=$(n); \
                     if [ \"$n1\" != \"$n0\" ]; then {forgive}echo \"{unit} restarted while starting (NRestarts $n0 -> $n1): it is crash-looping\"; exit 1; fi; \
                     if [ -n \"$ok\" ]; then [ -z \"$forgiven\" ] || echo \"$forgiven\"; exit 0; fi; \
                     [ $(date +%s) -lt $end ] || break; sleep 0.2; done; echo \"$out\"; exit 1"
                )
            }
            Query::Journal { unit, lines } => format!("journalctl -u {unit} -n {lines} --no-pager 2>&1"),
            Query::Record(path) => format!("cat {} 2>/dev/null; true", quote(path)),
            // Through the host's own API server: admin.conf names the first control plane,
            // which may be the host `node remove` just stopped.
            Query::NodePodCidrs => crate::components::kubectl_local(&["get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name} {.spec.podCIDR}{\"\\n\"}{end}"]),
            Query::AddonsReady(script) => script.clone(),
            Query::Leftovers { paths, units } => {
                let patterns: Vec<String> = paths.iter().map(|p| p.strip_suffix('*').map_or_else(|| quote(p).into_owned(), |prefix| format!("{}*", quote(prefix)))).collect();
                format!(
                    "for p in {}; do if [ -d \"$p\" ] && [ ! -L \"$p\" ]; then \
                     if mountpoint -q \"$p\" 2>/dev/null && [ -z \"$(ls -A \"$p\" 2>/dev/null)\" ]; then :; else echo \"dir $p\"; fi; \
                     elif [ -e \"$p\" ] || [ -L \"$p\" ]; then echo \"path $p\"; fi; done\n\
                     for u in {}; do echo \"unit $u\"; systemctl show -p LoadState -p ActiveState -p UnitFileState \"$u\" 2>/dev/null; done; true",
                    patterns.join(" "),
                    command(units)
                )
            }
            Query::Images => format!("{} --address {} -n k8s.io images ls -q", crate::components::binary_path("ctr"), crate::components::CONTAINERD_SOCKET),
            #[cfg(test)]
            Query::Script(script) => script.clone(),
        }
    }

    /// Whether a non-zero exit is part of the answer; otherwise it fails the read.
    pub fn status_is_answer(&self) -> bool {
        match self {
            Query::ServiceState(_) | Query::MarkerExists(_) | Query::MissingModules(_) | Query::Health { .. } | Query::HealthNow { .. } | Query::Journal { .. } | Query::AddonsReady(_) => true,
            Query::Facts | Query::Boot | Query::InstalledKernels(_) | Query::KernelRelease | Query::BootId | Query::EtcdMembers(_) | Query::EtcdStatus(_) | Query::EtcdHealth(_) | Query::PeerRoutes(_) | Query::Record(_) | Query::Images | Query::NodePodCidrs | Query::Leftovers { .. } => false,
            #[cfg(test)]
            Query::Script(_) => true,
        }
    }

    /// Every fact of the host.
    pub fn facts() -> Ask<Facts> {
        Ask { query: Query::Facts, parse: |o| Ok(Facts::parse(&o.stdout_text())?) }
    }

    /// Whether service `name` is active, and the restarts recorded as due for it.
    pub fn service_state(name: &str) -> Ask<ServiceState> {
        Ask { query: Query::ServiceState(name.to_string()), parse: |o| Ok(parse_service_state(&o.stdout_text())) }
    }

    /// Whether `path` exists.
    pub fn marker_exists(path: &str) -> Ask<bool> {
        Ask { query: Query::MarkerExists(path.to_string()), parse: |o| Ok(o.success()) }
    }

    /// Which of `modules` the kernel lacks, and which of those it can load.
    pub fn missing_modules(modules: &[&str]) -> Ask<MissingModules> {
        Ask { query: Query::MissingModules(modules.iter().map(|m| m.to_string()).collect()), parse: |o| Ok(parse_missing_modules(&o.stdout_text())) }
    }

    /// GRUB's entries and default.
    pub fn boot() -> Ask<Boot> {
        Ask { query: Query::Boot, parse: |o| Ok(parse_boot(&o.stdout_text())) }
    }

    /// The kernels of rpm package `package`.
    pub fn installed_kernels(package: &str) -> Ask<Vec<InstalledKernel>> {
        Ask { query: Query::InstalledKernels(package.to_string()), parse: |o| Ok(parse_installed_kernels(&o.stdout_text())) }
    }

    /// The running kernel's release.
    pub fn kernel_release() -> Ask<String> {
        Ask { query: Query::KernelRelease, parse: |o| Ok(o.stdout_text().trim().to_string()) }
    }

    /// The running boot's id.
    pub fn boot_id() -> Ask<String> {
        Ask { query: Query::BootId, parse: |o| Ok(o.stdout_text().trim().to_string()) }
    }

    /// The etcd members, asked at `endpoints`.
    pub fn etcd_members(endpoints: &[Ipv6Addr]) -> Ask<Vec<EtcdMember>> {
        Ask { query: Query::EtcdMembers(endpoints.to_vec()), parse: |o| Ok(parse_member_list(&o.stdout_text())?) }
    }

    /// The raft index of each of `endpoints` (as `https://[addr]:2379`).
    pub fn etcd_status(endpoints: &[Ipv6Addr]) -> Ask<Vec<(String, u64)>> {
        Ask { query: Query::EtcdStatus(endpoints.to_vec()), parse: |o| Ok(parse_raft_indexes(&o.stdout_text())?) }
    }

    /// The host's routes to `peers` and its default routes from router advertisements.
    pub fn peer_routes(peers: &[Ipv6Addr]) -> Ask<super::PeerRoutes> {
        Ask { query: Query::PeerRoutes(peers.to_vec()), parse: |o| Ok(super::parse_peer_routes(&o.stdout_text())) }
    }

    /// How each of `endpoints` answers (asked one at a time, so one that does not answer
    /// cannot hide the others).
    pub fn etcd_health(endpoints: &[Ipv6Addr]) -> Ask<Vec<(Ipv6Addr, EtcdState)>> {
        Ask { query: Query::EtcdHealth(endpoints.to_vec()), parse: |o| Ok(parse_etcd_health(&o.stdout_text())) }
    }

    /// `check` passing within `seconds`, retried on the host, without `unit` restarting.
    pub fn health(unit: &str, check: String, seconds: u64) -> Ask<Health> {
        Query::service_health(unit, check, seconds, None)
    }

    /// [`Query::health`] of a service that may exit by design, with the journal line that
    /// says so.
    pub fn service_health(unit: &str, check: String, seconds: u64, by_design: Option<&'static str>) -> Ask<Health> {
        Ask {
            query: Query::Health { unit: unit.to_string(), check, seconds, by_design },
            parse: |o| {
                let text = o.stdout_text().trim().to_string();
                Ok(match (o.success(), text.is_empty()) {
                    (true, true) => Health::Healthy,
                    (true, false) => Health::HealthyAfterRestart(text),
                    (false, _) => Health::Unhealthy(text),
                })
            },
        }
    }

    /// A service's health check tried once, without waiting (healthy, or the check's output).
    pub fn health_now(unit: &str, check: String) -> Ask<Health> {
        Ask {
            query: Query::HealthNow { unit: unit.to_string(), check },
            parse: |o| Ok(if o.success() { Health::Healthy } else { Health::Unhealthy(o.stdout_text().trim().to_string()) }),
        }
    }

    /// The last `lines` lines of `unit`'s journal.
    pub fn journal(unit: &str, lines: u32) -> Ask<String> {
        Ask { query: Query::Journal { unit: unit.to_string(), lines }, parse: |o| Ok(o.stdout_text().trim().to_string()) }
    }

    /// Whether the addons' workloads are Ready, waiting up to the script's time.
    pub fn addons_ready(script: String) -> Ask<AddonsReady> {
        Ask {
            query: Query::AddonsReady(script),
            parse: |o| {
                let text = o.stdout_text();
                let ready = crate::components::parse_ready(&text);
                let failure = (!o.success()).then(|| text.lines().filter(|l| !l.starts_with("ready ")).collect::<Vec<_>>().join("\n"));
                Ok(AddonsReady { ready, failure })
            },
        }
    }

    /// Each Node's name and pod subnet (`None` until the controller-manager allocated one).
    pub fn node_pod_cidrs() -> Ask<Vec<(String, Option<ipnet::Ipv6Net>)>> {
        Ask { query: Query::NodePodCidrs, parse: |o| Ok(parse_node_pod_cidrs(&o.stdout_text())) }
    }

    /// The image references in containerd's `k8s.io` namespace (containerd must run).
    pub fn images() -> Ask<Vec<String>> {
        Ask { query: Query::Images, parse: |o| Ok(o.stdout_text().lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()) }
    }

    /// Which of `paths` exist on the host, and the state of `units`.
    pub fn leftovers(paths: &[String], units: &[String]) -> Ask<Leftovers> {
        Ask { query: Query::Leftovers { paths: paths.to_vec(), units: units.to_vec() }, parse: |o| Ok(parse_leftovers(&o.stdout_text())) }
    }

    /// The trimmed text of the file at `path` (empty when missing).
    pub fn record(path: &str) -> Ask<String> {
        Ask { query: Query::Record(path.to_string()), parse: |o| Ok(o.stdout_text().trim().to_string()) }
    }
}

/// What is left on a host of what it was asked about.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Leftovers {
    /// The paths that exist (patterns expanded), in the order asked.
    pub paths: Vec<String>,
    /// Those of them that are directories.
    pub dirs: Vec<String>,
    /// The units systemd knows (loaded), by name.
    pub units: std::collections::BTreeMap<String, UnitState>,
}

/// A unit's state, from `systemctl show`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnitState {
    /// `LoadState=loaded`: systemd has read its file.
    pub loaded: bool,
    /// `ActiveState` (`active`, `inactive`, `failed`, ...).
    pub active: String,
    /// `UnitFileState=enabled`.
    pub enabled: bool,
}

impl UnitState {
    /// Whether it runs, or may (not `inactive`).
    pub fn running(&self) -> bool {
        !self.active.is_empty() && self.active != "inactive"
    }
}

/// `path P` and `dir P` lines, then per unit `unit U` and `systemctl show`'s `Key=value` lines.
pub fn parse_leftovers(output: &str) -> Leftovers {
    let mut leftovers = Leftovers::default();
    let mut unit: Option<(String, UnitState)> = None;
    let finish = |unit: Option<(String, UnitState)>, leftovers: &mut Leftovers| {
        if let Some((name, state)) = unit.filter(|(_, s)| s.loaded || s.running()) {
            leftovers.units.insert(name, state);
        }
    };
    for line in output.lines() {
        if let Some(path) = line.strip_prefix("path ") {
            leftovers.paths.push(path.to_string());
        } else if let Some(dir) = line.strip_prefix("dir ") {
            leftovers.paths.push(dir.to_string());
            leftovers.dirs.push(dir.to_string());
        } else if let Some(name) = line.strip_prefix("unit ") {
            finish(unit.take(), &mut leftovers);
            unit = Some((name.trim().to_string(), UnitState::default()));
        } else if let (Some((_, state)), Some((key, value))) = (unit.as_mut(), line.split_once('=')) {
            match key {
                "LoadState" => state.loaded = value == "loaded",
                "ActiveState" => state.active = value.to_string(),
                "UnitFileState" => state.enabled = value == "enabled",
                _ => {}
            }
        }
    }
    finish(unit, &mut leftovers);
    leftovers
}

/// The service state probe's output: the pending record's lines, then `active` or `inactive`.
pub fn parse_service_state(output: &str) -> ServiceState {
    let mut lines: Vec<&str> = output.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let active = lines.pop() == Some("active");
    ServiceState { active, pending: lines.into_iter().map(str::to_string).collect() }
}

/// How an etcd member answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtcdState {
    /// `endpoint health` passes: it serves reads agreed by a quorum.
    Healthy,
    /// It runs (`endpoint status` answers) but cannot serve a quorum read: the cluster has
    /// no quorum, or it is cut off from it.
    Running,
    /// It does not answer.
    Down,
}

impl std::fmt::Display for EtcdState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EtcdState::Healthy => "healthy",
            EtcdState::Running => "running without a quorum",
            EtcdState::Down => "down",
        })
    }
}

/// `healthy ADDRESS`, `running ADDRESS` and `down ADDRESS` lines.
pub fn parse_etcd_health(output: &str) -> Vec<(Ipv6Addr, EtcdState)> {
    output
        .lines()
        .filter_map(|l| {
            let (state, address) = l.trim().split_once(' ')?;
            let state = match state {
                "healthy" => EtcdState::Healthy,
                "running" => EtcdState::Running,
                _ => EtcdState::Down,
            };
            Some((address.parse().ok()?, state))
        })
        .collect()
}

/// `load M` and `absent M` lines.
pub fn parse_missing_modules(output: &str) -> MissingModules {
    let pick = |kind: &str| output.lines().filter_map(|l| l.strip_prefix(kind)).map(|m| m.trim().to_string()).collect::<Vec<_>>();
    MissingModules { loadable: pick("load "), absent: pick("absent ") }
}

/// The `@@boot-entries`, `@@boot-default` and `@@grubenv` sections.
pub fn parse_boot(output: &str) -> Boot {
    let sections = parse_sections(output);
    let section = |name: &str| sections.get(name).map_or("", String::as_str);
    let entries = parse_boot_entries(section("boot-entries"));
    let default = parse_boot_default(section("boot-default"), section("grubenv"), &entries);
    Boot { entries, default }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(status: u32, stdout: &str) -> Output {
        Output { status, stdout: stdout.into(), stderr: Vec::new() }
    }

    #[test]
    fn leftovers_are_the_paths_found_and_the_units_systemd_knows() {
        let ask = Query::leftovers(&["/etc/etcd".into(), "/var/lib/etcd.before-restore-*".into()], &["etcd.service".into(), "gone.service".into()]);
        let script = ask.query().script();
        assert!(script.contains("for p in /etc/etcd /var/lib/etcd.before-restore-*; do"), "{script}");
        let answer = ask
            .parse(&output(0, "dir /etc/etcd\npath /var/lib/etcd.before-restore-20260101T000000Z\nunit etcd.service\nActiveState=active\nLoadState=loaded\nUnitFileState=enabled\nunit gone.service\nLoadState=not-found\nActiveState=inactive\nUnitFileState=\n"))
            .unwrap();
        assert_eq!(answer.paths, ["/etc/etcd", "/var/lib/etcd.before-restore-20260101T000000Z"]);
        assert_eq!(answer.dirs, ["/etc/etcd"]);
        assert_eq!(answer.units.len(), 1, "{answer:?}");
        assert_eq!(answer.units["etcd.service"], UnitState { loaded: true, active: "active".into(), enabled: true });
        let glob = std::process::Command::new("sh").arg("-n").arg("-c").arg(&script).status().unwrap();
        assert!(glob.success());
    }

    /// A directory that is a mount point of its own (`/var/lib/containerd` on a disk of its
    /// own; the lab binds one in) stays when reset empties it: empty, it is no leftover, so a
    /// second reset changes nothing. With something in it, or not a mount point, it is one.
    #[test]
    fn an_empty_mount_point_is_not_a_leftover() {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name).display().to_string();
        for name in ["mounted-empty", "mounted-full", "plain-empty"] {
            std::fs::create_dir(path(name)).unwrap();
        }
        std::fs::write(dir.path().join("mounted-full/blob"), "x").unwrap();
        let stubs = tempfile::tempdir().unwrap();
        let stub = stubs.path().join("mountpoint");
        std::fs::write(&stub, format!("#!/bin/sh\ncase \"$2\" in {}|{}) exit 0 ;; esac\nexit 1\n", path("mounted-empty"), path("mounted-full"))).unwrap();
        std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let ask = Query::leftovers(&[path("mounted-empty"), path("mounted-full"), path("plain-empty")], &[]);
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(ask.query().script())
            .env("PATH", format!("{}:{}", stubs.path().display(), std::env::var("PATH").unwrap_or_default()))
            .output()
            .unwrap();
        let answer = ask.parse(&output(0, &String::from_utf8_lossy(&out.stdout))).unwrap();
        assert_eq!(answer.dirs, [path("mounted-full"), path("plain-empty")]);
    }

    #[test]
    fn service_state_reads_pending_files_then_the_state() {
        let ask = Query::service_state("etcd");
        assert_eq!(ask.parse(&output(0, "inactive\n")).unwrap(), ServiceState { active: false, pending: vec![] });
        assert_eq!(ask.parse(&output(0, "/b\n/a\n  \nactive\n")).unwrap(), ServiceState { active: true, pending: vec!["/b".into(), "/a".into()] });
        assert_eq!(ask.parse(&output(0, "")).unwrap(), ServiceState::default());
        assert!(ask.query().script().starts_with("f=/var/lib/v6deploy/restart-pending/etcd; if [ -f \"$f\" ]"), "{}", ask.query().script());
        // Run for real against a stand-in systemctl: the record's lines, then the state.
        let dir = tempfile::tempdir().unwrap();
        let stub = dir.path().join("systemctl");
        std::fs::write(&stub, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let record = dir.path().join("etcd");
        std::fs::write(&record, "/etc/etcd/etcd.conf.yml\n/etc/kubernetes/pki/etcd/server.crt").unwrap();
        let script = ask.query().script().replace("/var/lib/v6deploy/restart-pending/etcd", &record.display().to_string());
        let out = std::process::Command::new("sh").arg("-c").arg(script).env("PATH", format!("{}:/usr/bin:/bin", dir.path().display())).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "/etc/etcd/etcd.conf.yml\n/etc/kubernetes/pki/etcd/server.crt\nactive\n");
    }

    #[test]
    fn a_marker_exists_when_the_test_exits_zero() {
        let ask = Query::marker_exists("/var/lib/etcd/member");
        assert!(ask.parse(&output(0, "")).unwrap());
        assert!(!ask.parse(&output(1, "")).unwrap());
        assert!(ask.query().status_is_answer());
    }

    #[test]
    fn missing_modules_split_into_loadable_and_absent() {
        let ask = Query::missing_modules(&["br_netfilter", "ip_vs", "vxlan"]);
        let found = ask.parse(&output(0, "load br_netfilter\nabsent ip_vs\nbuiltin vxlan\n")).unwrap();
        assert_eq!(found, MissingModules { loadable: vec!["br_netfilter".into()], absent: vec!["ip_vs".into()] });
        assert_eq!(ask.parse(&output(0, "")).unwrap(), MissingModules::default());
        assert!(ask.query().script().starts_with("set -- br_netfilter ip_vs vxlan\n"), "{}", ask.query().script());
    }

    /// The modules the host's modules-load.d file names, and one no kernel has.
    const MODULES_WANTED: [&str; 9] = ["br_netfilter", "overlay", "vxlan", "ip6_tables", "ip6table_filter", "ip6table_nat", "ip6table_mangle", "nf_conntrack", "v6deploy_no_such_module"];

    /// Runs the missing modules script for `modules` with the local `shell`, `PATH` starting
    /// with `stubs`; its stdout, checked to be only `load M` and `absent M` lines for the
    /// modules asked, and its answer.
    fn missing_modules_here(shell: &str, modules: &[&str], stubs: Option<&std::path::Path>) -> MissingModules {
        let ask = Query::missing_modules(modules);
        let mut run = std::process::Command::new(shell);
        run.arg("-c").arg(ask.query().script());
        if let Some(stubs) = stubs {
            run.env("PATH", format!("{}:{}", stubs.display(), std::env::var("PATH").unwrap_or_default()));
        }
        let out = run.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{shell}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
        for line in stdout.lines() {
            let (kind, module) = line.split_once(' ').unwrap_or((line, ""));
            assert!(matches!(kind, "load" | "absent") && modules.contains(&module), "{shell}: unexpected line {line:?} in\n{stdout}");
        }
        ask.parse(&output(0, &stdout)).unwrap()
    }

    /// What `ip` lists: the named network namespaces and the vxlan devices (empty without `ip`).
    fn network_namespaces_and_vxlans() -> String {
        let ip = |args: &[&str]| std::process::Command::new("ip").args(args).output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
        ip(&["netns", "list"]) + &ip(&["-o", "link", "show", "type", "vxlan"])
    }

    /// The real script on this machine (whatever its kernel has): an answer for the modules
    /// asked only, a made-up module absent, and no namespace or vxlan device left behind
    /// (other than the lab's, which tests running at the same time make and remove).
    #[test]
    fn the_missing_modules_script_runs_here_and_leaves_nothing_behind() {
        let before = network_namespaces_and_vxlans();
        for shell in ["sh", "bash"].into_iter().filter(|s| std::process::Command::new(s).arg("-c").arg("true").status().is_ok_and(|s| s.success())) {
            let answer = missing_modules_here(shell, &MODULES_WANTED, None);
            assert!(answer.absent.contains(&"v6deploy_no_such_module".to_string()), "{shell}: {answer:?}");
            assert!(!answer.loadable.contains(&"v6deploy_no_such_module".to_string()), "{shell}: {answer:?}");
        }
        let after = network_namespaces_and_vxlans();
        // Lab tests running beside this one add and remove their own `v6lab-` namespaces.
        let added: Vec<&str> = after.lines().filter(|line| !before.lines().any(|old| old == *line)).filter(|line| !line.starts_with("v6lab-")).collect();
        assert!(added.is_empty(), "left behind: {added:?}");
        assert!(!after.contains("v6deploy-probe"), "{after}");
    }

    /// Regression (the preflight called modules missing on hosts whose kernel has them built
    /// in, without /lib/modules): with `modprobe` and `/proc/config.gz` unusable, a table that
    /// `ip6tables` can add a rule to is not absent, and `ip6tables` (a stand-in recording its
    /// network namespace) only ever runs in a scratch namespace, never in this one. When this
    /// machine cannot `unshare -n` (not root), only the second half holds.
    #[test]
    fn a_module_whose_feature_works_in_a_scratch_namespace_is_not_absent() {
        let dir = tempfile::tempdir().unwrap();
        let record = dir.path().join("namespaces");
        let stub = |name: &str, body: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        };
        stub("modprobe", "exit 1".into());
        stub("zcat", "exit 1".into());
        stub("ip6tables", format!("readlink /proc/self/ns/net >> {}", record.display()));
        let answer = missing_modules_here("sh", &["ip6table_nat", "ip6table_mangle", "v6deploy_no_such_module"], Some(dir.path()));
        assert!(answer.absent.contains(&"v6deploy_no_such_module".to_string()), "{answer:?}");
        let here = std::fs::read_link("/proc/self/ns/net").unwrap();
        let namespaces = std::fs::read_to_string(&record).unwrap_or_default();
        assert!(namespaces.lines().all(|n| std::path::Path::new(n) != here), "{namespaces}");
        if std::process::Command::new("unshare").args(["-n", "true"]).status().is_ok_and(|s| s.success()) {
            assert_eq!(answer, MissingModules { loadable: vec![], absent: vec!["v6deploy_no_such_module".into()] });
        }
    }

    #[test]
    fn boot_entries_and_default() {
        let text = "@@boot-entries\nindex=0\nkernel=\"/boot/vmlinuz-4.19.113-300.el7.x86_64\"\ntitle=\"CentOS (4.19)\"\nindex=1\nkernel=\"/boot/vmlinuz-3.10.0-1160.el7.x86_64\"\ntitle=\"CentOS (3.10)\"\n@@boot-default\n/boot/vmlinuz-4.19.113-300.el7.x86_64\n@@grubenv\n";
        let boot = Query::boot().parse(&output(0, text)).unwrap();
        assert_eq!(boot.entries.len(), 2, "{boot:?}");
        assert_eq!(boot.default.as_deref(), Some("4.19.113-300.el7.x86_64"));
        assert_eq!(Query::boot().parse(&output(0, "")).unwrap(), Boot::default());
    }

    #[test]
    fn one_line_answers_are_trimmed() {
        assert_eq!(Query::kernel_release().parse(&output(0, "4.19.113-300.el7.x86_64\n")).unwrap(), "4.19.113-300.el7.x86_64");
        assert_eq!(Query::boot_id().parse(&output(0, "b1\n")).unwrap(), "b1");
        assert_eq!(Query::record("/run/x.applied").parse(&output(0, "0\n")).unwrap(), "0");
        assert_eq!(Query::record("/run/x.applied").parse(&output(0, "")).unwrap(), "");
        assert!(!Query::record("/run/x").query().status_is_answer());
    }

    #[test]
    fn health_keeps_the_last_output_of_a_failing_check() {
        let ask = Query::health("u", "true".into(), 5);
        assert_eq!(ask.parse(&output(0, "")).unwrap(), Health::Healthy);
        assert_eq!(ask.parse(&output(1, "connection refused\n")).unwrap(), Health::Unhealthy("connection refused".into()));
    }

    /// The real retry loop with the local `sh`: a passing check, and a failing one whose last
    /// output comes back.
    #[test]
    fn the_health_script_retries_and_reports_the_last_output() {
        let run = |check: &str| {
            let out = std::process::Command::new("sh").arg("-c").arg(Query::health("v6deploy-no-such-unit", check.into(), 0).query().script()).output().unwrap();
            Query::health("v6deploy-no-such-unit", check.into(), 0).parse(&output(out.status.code().unwrap_or(255) as u32, &String::from_utf8_lossy(&out.stdout))).unwrap()
        };
        assert_eq!(run("true"), Health::Healthy);
        assert_eq!(run("echo nope; false"), Health::Unhealthy("nope".into()));
    }

    #[test]
    fn the_journal_excerpt_finds_the_error_above_a_usage_text() {
        let mut journal = String::from("Nov 29 06:06:02 h kube-scheduler[1]: Error: unknown flag: --no-such-flag\n");
        for i in 0..40 {
            journal.push_str(&format!("Nov 29 06:06:02 h kube-scheduler[1]:       --flag-{i} string   usage\n"));
        }
        journal.push_str("Nov 29 06:06:02 h kube-scheduler[1]: Error: unknown flag: --no-such-flag\nNov 29 06:06:02 h systemd[1]: kube-scheduler.service: Main process exited, code=exited, status=1/FAILURE\n");
        let excerpt = journal_excerpt(&journal, 5);
        assert!(excerpt.contains("Error: unknown flag: --no-such-flag"), "{excerpt}");
        assert_eq!(excerpt.matches("unknown flag").count(), 1, "{excerpt}");
        assert!(!excerpt.contains("--flag-3 "), "{excerpt}");
        assert_eq!(journal_excerpt("a\nb\nc\n", 2), "b\nc");
        let klog = "x kubelet[2]: I1129 05:00:00 fine\nx kubelet[2]: F1129 05:00:01 open /proc/x: permission denied\nx kubelet[2]: I1129 done\n";
        assert_eq!(journal_excerpt(klog, 5), "x kubelet[2]: F1129 05:00:01 open /proc/x: permission denied\nx kubelet[2]: I1129 done");
    }

    #[test]
    fn node_pod_cidrs_parse_with_and_without_an_allocation() {
        let nodes = parse_node_pod_cidrs("a 2001:db8:42:1::/64\nb\n\n");
        assert_eq!(nodes, [("a".to_string(), Some("2001:db8:42:1::/64".parse().unwrap())), ("b".to_string(), None)]);
    }

    /// The snapshot's check: run once, its output is the reason when it fails.
    #[test]
    fn a_health_check_tried_once_says_why_it_failed() {
        // A stand-in `systemctl` says whether the unit is active.
        let run = |active: bool, check: &str| {
            let dir = tempfile::tempdir().unwrap();
            let stub = dir.path().join("systemctl");
            std::fs::write(&stub, format!("#!/bin/sh\nexit {}\n", if active { 0 } else { 3 })).unwrap();
            std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
            let ask = Query::health_now("kubelet", check.into());
            let out = std::process::Command::new("sh").arg("-c").arg(ask.query().script()).env("PATH", format!("{}:/usr/bin:/bin", dir.path().display())).output().unwrap();
            ask.parse(&output(out.status.code().unwrap_or(255) as u32, &String::from_utf8_lossy(&out.stdout))).unwrap()
        };
        assert_eq!(run(true, "true"), Health::Healthy);
        assert_eq!(run(true, "echo 'connection refused' >&2; false"), Health::Unhealthy("connection refused".into()));
        assert_eq!(run(false, "sleep 30"), Health::Unhealthy("kubelet not active".into()), "not asked when not active");
        assert!(Query::health_now("kubelet", "true".into()).query().status_is_answer());
    }

    /// A unit that crashed and was restarted by systemd while the check ran fails, even if
    /// the check passes at the end (a stand-in `systemctl` counts up NRestarts per call).
    #[test]
    fn a_unit_that_restarts_during_the_check_is_crash_looping() {
        let dir = tempfile::tempdir().unwrap();
        let count = dir.path().join("count");
        let stub = dir.path().join("systemctl");
        std::fs::write(&stub, format!("#!/bin/sh\nn=$(cat {0} 2>/dev/null || echo 0); echo $((n+1)) > {0}; echo NRestarts=$n\n", count.display())).unwrap();
        std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let ask = Query::health("kubelet", "true".into(), 0);
        let out = std::process::Command::new("sh").arg("-c").arg(ask.query().script()).env("PATH", format!("{}:/usr/bin:/bin", dir.path().display())).output().unwrap();
        let health = ask.parse(&output(out.status.code().unwrap_or(255) as u32, &String::from_utf8_lossy(&out.stdout))).unwrap();
        assert_eq!(health, Health::Unhealthy("kubelet restarted while starting (NRestarts 0 -> 1): it is crash-looping".into()));
    }

    /// A leader-elected service restarted once after `leaderelection lost` (in its journal):
    /// waited out, and the answer says so; without that line, or restarted twice, it is
    /// crash-looping. Stand-ins: `systemctl` answers the NRestarts of a list, one per call
    /// (the last repeats); `journalctl` prints the given journal.
    #[test]
    fn one_restart_by_design_is_waited_out_and_said() {
        let run = |restarts: &[u32], journal: &str| {
            let dir = tempfile::tempdir().unwrap();
            let calls = dir.path().join("calls");
            let list: Vec<String> = restarts.iter().map(u32::to_string).collect();
            let stub = |name: &str, body: String| {
                let path = dir.path().join(name);
                std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
                std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
            };
            stub("systemctl", format!("n=$(cat {c} 2>/dev/null || echo 0); echo $((n+1)) > {c}; set -- {l}; i=0; for v in \"$@\"; do last=$v; [ $i -eq $n ] && break; i=$((i+1)); done; echo NRestarts=$last", c = calls.display(), l = list.join(" ")));
            stub("journalctl", format!("printf '%s\\n' '{journal}'"));
            let ask = Query::service_health("kube-scheduler", "true".into(), 0, Some("leaderelection lost"));
            let out = std::process::Command::new("sh").arg("-c").arg(ask.query().script()).env("PATH", format!("{}:/usr/bin:/bin", dir.path().display())).output().unwrap();
            ask.parse(&output(out.status.code().unwrap_or(255) as u32, &String::from_utf8_lossy(&out.stdout))).unwrap()
        };
        let lost = "F1129 11:35:14 leaderelection.go:1] leaderelection lost";
        assert_eq!(run(&[1, 2], lost), Health::HealthyAfterRestart("kube-scheduler restarted once during the check, after it exited by design (leaderelection lost), and is healthy again".into()));
        assert_eq!(run(&[1, 1], lost), Health::Healthy);
        assert_eq!(run(&[1, 2], "Error: unknown flag: --bad"), Health::Unhealthy("kube-scheduler restarted while starting (NRestarts 1 -> 2): it is crash-looping".into()));
        assert_eq!(run(&[1, 2, 3], lost), Health::Unhealthy("kube-scheduler restarted while starting (NRestarts 2 -> 3): it is crash-looping".into()));
        // Services without an exit by design never look at their journal.
        assert!(!Query::health("kubelet", "true".into(), 0).query().script().contains("journalctl"));
    }

    #[test]
    fn etcd_answers_and_their_errors() {
        let members = Query::etcd_members(&["2001:db8:0:1::101".parse().unwrap()]);
        let json = r#"{"members":[{"ID":1234,"peerURLs":["https://[2001:db8:0:1::104]:2380"]}]}"#;
        assert_eq!(members.parse(&output(0, json)).unwrap()[0].id, "4d2");
        assert!(matches!(members.parse(&output(0, "Error: context deadline exceeded")), Err(QueryError::Etcd(_))));
        assert!(members.query().script().contains("'--endpoints=https://[2001:db8:0:1::101]:2379' "), "{}", members.query().script());
        let status = Query::etcd_status(&[]);
        let json = r#"[{"Endpoint":"https://[2001:db8:0:1::101]:2379","Status":{"raftIndex":20}}]"#;
        assert_eq!(status.parse(&output(0, json)).unwrap(), [("https://[2001:db8:0:1::101]:2379".to_string(), 20)]);
    }

    #[test]
    fn etcd_health_is_read_per_endpoint() {
        let endpoints: Vec<Ipv6Addr> = vec!["2001:db8::1".parse().unwrap(), "2001:db8::2".parse().unwrap()];
        let ask = Query::etcd_health(&endpoints);
        assert_eq!(ask.parse(&output(0, "healthy 2001:db8::1\nrunning 2001:db8::2\ndown 2001:db8::3\n")).unwrap()[..2], [(endpoints[0], EtcdState::Healthy), (endpoints[1], EtcdState::Running)]);
        assert_eq!(ask.parse(&output(0, "down 2001:db8::2\n")).unwrap(), [(endpoints[1], EtcdState::Down)]);
        let script = ask.query().script();
        assert_eq!(script.matches("endpoint health").count(), 2, "{script}");
        assert_eq!(script.matches("endpoint status").count(), 2, "{script}");
        assert!(script.contains("'--endpoints=https://[2001:db8::2]:2379'"), "{script}");
    }

    #[test]
    fn facts_fail_on_a_missing_section() {
        assert!(matches!(Query::facts().parse(&output(0, "@@uname\n4.19\n")), Err(QueryError::Facts(_))));
    }
}
