//! Installing a systemd service from the bundle: its files through the gate, then — unless it
//! is staged — daemon-reload when a unit changed, (re)start only when one of its files changed
//! or it is not running, and its health check (retried on the host: one round trip).
//!
//! A restart can be due from an earlier run: a run that wrote a service's certificates or
//! binary and stopped before the service's step (Ctrl-C, a failed step, a lost connection)
//! leaves the service running on the old files, and the next run finds the files already in
//! place. So whenever files a service reads change, the host records it
//! (`PENDING_DIR/<service>`, listing the files) and the record goes only with the restart.

use anyhow::bail;

use super::{ComponentOutcome, InstallState};
use crate::components::{self, Component, Restart, Start};
pub use crate::facts::PENDING_DIR;
use crate::facts::{Health, Query, ServiceState};
use crate::inventory::{HostSpec, Inventory};
use crate::runner::{FollowUp, HostContext, Mode, Read};
use crate::shell::command;

/// Records on the host, through the gate, that its services which read one of `changed`
/// must restart (staged services never run, so they are left out). Steps call it right after
/// writing files.
pub async fn note_pending_restarts(cx: &HostContext<'_>, state: &InstallState, changed: &[String]) -> anyhow::Result<()> {
    if let Some(note) = pending_restarts(cx.host, state, changed) {
        cx.command(&note.what, &note.script, &note.reason).await?;
    }
    Ok(())
}

/// The command recording the restarts `changed` makes due on `host` (none when no service
/// that runs there reads one of them).
pub fn pending_restarts(host: &HostSpec, state: &InstallState, changed: &[String]) -> Option<FollowUp> {
    let due: Vec<(&str, Vec<&String>)> = components::services_on(host)
        .filter(|c| !c.is_staged(&state.bundle))
        .map(|c| (c.name, changed.iter().filter(|p| c.restarts_for(host, p)).collect::<Vec<_>>()))
        .filter(|(_, paths)| !paths.is_empty())
        .collect();
    if due.is_empty() {
        return None;
    }
    let mut script = format!("mkdir -p {PENDING_DIR}");
    for (name, paths) in &due {
        script.push_str(&format!(" && printf '%s\\n' {} >> {PENDING_DIR}/{name}", command(paths)));
    }
    let names: Vec<&str> = due.iter().map(|(name, _)| *name).collect();
    Some(FollowUp { what: format!("record pending restart of {}", names.join(", ")), script, reason: "files they read changed".into(), change: true })
}

/// What `install` reads on a host, for the run's snapshot: every file the services own,
/// their bootstrap markers, and the pending restarts and state of those that run.
/// and each running service's health check, tried once (see `first_health`).
pub fn reads(state: &InstallState, inv: &Inventory, host: &HostSpec, services: &[&'static Component]) -> Vec<Read> {
    let mut reads: Vec<Read> = state.files(host.address, |p| services.iter().any(|c| c.owns(host, p))).into_iter().map(|f| Read::probe(&f)).collect();
    reads.extend(services.iter().filter_map(|c| c.service()?.bootstrap).map(|b| Read::query(&Query::marker_exists(b.marker))));
    let running = services.iter().filter(|c| !c.is_staged(&state.bundle));
    reads.extend(running.clone().map(|c| Read::query(&Query::service_state(c.name))));
    reads.extend(running.map(|c| Read::query(&health_once(inv, host, &state.bundle, c))));
    reads
}

/// The service's health check tried once, without waiting: read with the run's snapshot, it
/// answers for a service nothing in the run has touched on its host.
fn health_once(inv: &Inventory, host: &HostSpec, bundle: &crate::bundle::BundleCheck, service: &Component) -> crate::facts::Ask<Health> {
    Query::health_now(service.name, service.health_script(inv, host, bundle))
}

/// Whether the snapshot's health check already says `service` is healthy, and it still
/// counts: nothing on the host changed or restarted in this run before the check is due (a
/// no-change run checks every service of a host in the snapshot's one round trip).
fn healthy_in_snapshot(cx: &HostContext<'_>, state: &InstallState, service: &Component) -> bool {
    state.untouched(cx.host.address) && cx.snapshot_answer(&health_once(cx.inventory, cx.host, &state.bundle, service)).is_some_and(|h| matches!(h, Ok(Health::Healthy)))
}

/// Whether `install_with` waits for the services' health checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Each running service must pass its health check before the step goes on.
    Health,
    /// The caller checks later (an etcd learner fails `endpoint health` until promoted).
    Later,
}

/// Installs `services` on one host and checks their health; returns the summary line.
pub async fn install(cx: &HostContext<'_>, state: &InstallState, services: &[&'static Component]) -> anyhow::Result<String> {
    install_with(cx, state, services, Check::Health).await
}

/// [`install`], with the health checks done now or left to the caller.
pub async fn install_with(cx: &HostContext<'_>, state: &InstallState, services: &[&'static Component], check: Check) -> anyhow::Result<String> {
    let address = cx.host.address;
    let host = cx.host;
    let mut specs = state.files(address, |p| services.iter().any(|c| c.owns(host, p)));
    for bootstrap in services.iter().filter_map(|c| c.service()?.bootstrap) {
        if cx.query(&Query::marker_exists(bootstrap.marker)).await? {
            specs.retain(|f| f.path != bootstrap.file);
        }
    }
    let changed = cx.files(&specs).await?;
    let changed_paths: Vec<String> = changed.iter().map(|(p, _)| p.clone()).collect();
    state.mark_changed(address, changed_paths.iter().cloned());
    note_pending_restarts(cx, state, &changed_paths).await?;
    // systemd re-reads units only for services that run: a staged unit is never started (its
    // file is checked by the Verify step's systemd-analyze), and a reload costs every host
    // a re-parse of all its units.
    let reload_for: Vec<&str> = services.iter().filter(|c| !c.is_staged(&state.bundle) && changed_paths.contains(&c.unit_path())).map(|c| c.name).collect();
    if !reload_for.is_empty() {
        cx.command("systemctl daemon-reload", "systemctl daemon-reload", &format!("unit files changed: {}", reload_for.join(", "))).await?;
    }
    let apply = cx.gate.mode() == Mode::Apply;
    let mut summary = Vec::new();
    // Start everything first, then check health, so members that need each other come up together.
    let mut running = Vec::new();
    // Restarts by design the health checks waited out, said at the end of the summary.
    let mut restarts: Vec<String> = Vec::new();
    for service in services.iter().copied() {
        let Some(spec) = service.service() else { continue };
        let name = service.name;
        if service.is_staged(&state.bundle) {
            // Its unit is checked by the Verify step, which every workflow with services ends with.
            state.set_outcome(address, service, ComponentOutcome::Staged);
            summary.push(format!("{name} staged (no binary in bundle)"));
            continue;
        }
        let pending = format!("{PENDING_DIR}/{name}");
        let probed = cx.query(&Query::service_state(name)).await?;
        let (active, restart_for) = restart_state(probed, state.changed(address, |p| service.restarts_for(host, p)));
        let outcome = match (active, restart_for.is_empty()) {
            (true, true) => ComponentOutcome::Unchanged,
            (false, _) => ComponentOutcome::Started,
            (true, false) => ComponentOutcome::Restarted { changed: restart_for },
        };
        if outcome != ComponentOutcome::Unchanged {
            let reason = match &outcome {
                ComponentOutcome::Restarted { changed } => format!("changed: {}", changed.join(", ")),
                _ => "not running".to_string(),
            };
            if active && spec.restart == Restart::Rolling {
                // One running member at a time: restarted and healthy before the next one.
                let _turn = state.restart_lock.lock().await;
                let command = format!("systemctl restart {name} && rm -f {pending}");
                cx.command(&format!("systemctl restart {name}"), &command, &reason).await?;
                if apply {
                    cx.say(&format!("waiting for {name} to be healthy after its restart"));
                    restarts.extend(health(cx, state, service).await?);
                }
            } else {
                let no_block = if spec.start == Start::Together { " --no-block" } else { "" };
                let command = format!("systemctl enable --quiet {name} && systemctl restart{no_block} {name} && rm -f {pending}");
                let verb = if outcome == ComponentOutcome::Started { "start" } else { "restart" };
                cx.command(&format!("systemctl {verb} {name}"), &command, &reason).await?;
            }
        }
        running.push((service, outcome.clone()));
        state.set_outcome(address, service, outcome);
    }
    // Every running service is checked, not only those (re)started now: one left unhealthy
    // by an earlier run that failed must not pass as "unchanged". When nothing on the host
    // changed, the check the snapshot made (once, at the run's start) answers.
    for (service, outcome) in &running {
        let name = service.name;
        let shows = service.health(&state.bundle).shows();
        if check == Check::Later {
            summary.push(format!("{name} {}", if *outcome == ComponentOutcome::Unchanged { "running, unchanged" } else { "started" }));
            continue;
        }
        if apply && !healthy_in_snapshot(cx, state, service) {
            cx.say(&format!("waiting for {name} to be healthy ({shows})"));
            restarts.extend(health(cx, state, service).await?);
        }
        // Says which check passed: a service is healthy only because its check said so.
        summary.push(match (outcome, apply) {
            (ComponentOutcome::Unchanged, true) => format!("{name} running, unchanged, healthy ({shows})"),
            (ComponentOutcome::Unchanged, false) => format!("{name} running, unchanged"),
            (ComponentOutcome::Started, true) => format!("{name} started and healthy ({shows})"),
            (ComponentOutcome::Started, false) => format!("{name} would be started"),
            (_, true) => format!("{name} restarted and healthy ({shows})"),
            (_, false) => format!("{name} would be restarted"),
        });
    }
    summary.extend(restarts);
    Ok(format!("{} files changed; {}", changed.len(), summary.join("; ")))
}

/// Whether the service runs, and every file whose change it has not been restarted for —
/// those of this run (`changed`) and those recorded by earlier ones.
fn restart_state(probed: ServiceState, mut changed: Vec<String>) -> (bool, Vec<String>) {
    changed.extend(probed.pending);
    changed.sort();
    changed.dedup();
    (probed.active, changed)
}

/// How long a started service has to become healthy.
const HEALTH_SECONDS: u64 = 90;

async fn health(cx: &HostContext<'_>, state: &InstallState, service: &Component) -> anyhow::Result<Option<String>> {
    health_within(cx, &state.bundle, service, HEALTH_SECONDS).await
}

/// The service's health check (see `Component::health_script`), retried on the host for up
/// to `seconds`. A restart it waited out (an exit by design) is said as progress and returned.
pub async fn health_within(cx: &HostContext<'_>, bundle: &crate::bundle::BundleCheck, service: &Component, seconds: u64) -> anyhow::Result<Option<String>> {
    let name = service.name;
    let check = service.health_script(cx.inventory, cx.host, bundle);
    let by_design = service.service().and_then(|s| s.exits_by_design);
    match cx.read_fresh(&Query::service_health(name, check, seconds, by_design)).await? {
        Health::Healthy => Ok(None),
        Health::HealthyAfterRestart(why) => {
            cx.say(&why);
            Ok(Some(why))
        }
        Health::Unhealthy(last) => {
            let journal = cx.read_fresh(&Query::journal(name, 200)).await?;
            bail!("{name} is not healthy (checked for up to {seconds} s): {last}\nfrom its journal:\n{}", crate::facts::journal_excerpt(&journal, 8));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::bundle::BundleCheck;
    use crate::inventory::{Inventory, parse};
    use crate::render::{HostFiles, Rendered, RenderedFile};
    use crate::runner::{Gate, Progress, Snapshot};
    use crate::transport::fake::{FakeTransport, Intent};
    use crate::transport::files::FileSpec;

    const CONF: &str = "name: member\n";
    use crate::components::{ETCD, Kind, Service};

    // etcd without its health check, bootstrap file and rolling restarts: the pending-restart
    // logic alone.
    static SERVICE: Component = Component {
        kind: Kind::Service(Service { health: components::Health::Active, bootstrap: None, restart: Restart::Parallel, ..components::service_of(&ETCD) }),
        ..ETCD
    };

    fn inventory() -> Inventory {
        parse(Path::new("field-report.yaml"), include_str!("../../inventories/field-report.yaml")).unwrap().inventory
    }

    /// The first host wants only etcd's configuration; every binary is in the bundle.
    fn state(inv: &Inventory) -> InstallState {
        let host = &inv.hosts[0];
        let files = vec![RenderedFile { path: "/etc/etcd/etcd.conf.yml".into(), mode: 0o644, contents: CONF.into() }];
        let desired = Rendered { hosts: vec![HostFiles { name: host.name.clone(), address: host.address, files }], cluster: vec![] };
        InstallState::new(desired, BundleCheck { root: "/bundle".into(), present: vec![], missing: vec![], dirs: vec![], missing_files: vec![] }, vec![]).unwrap()
    }

    /// The health check `SERVICE` gets: systemd's word, retried for `HEALTH_SECONDS`.
    fn healthy() -> crate::facts::Ask<Health> {
        Query::health("etcd", "systemctl is-active --quiet etcd".into(), HEALTH_SECONDS)
    }

    /// Installs `SERVICE` on the first host; returns the summary and the changes made, each
    /// as "wrote PATH (reason)" or "ran WHAT (reason)".
    async fn run(inv: &Inventory, state: &InstallState, fake: &FakeTransport) -> (String, Vec<String>) {
        let gate = Gate::new(Mode::Apply);
        let snapshot = Snapshot::default();
        let cx = HostContext::new(inv, &inv.hosts[0], fake, &gate, &Progress::Silent, &snapshot);
        let summary = install(&cx, state, &[&SERVICE]).await.unwrap();
        fake.verify();
        let changes = gate.changes().iter().map(|c| c.to_string().split_once(": ").map(|(_, rest)| rest.to_string()).unwrap_or_default()).collect();
        (summary, changes)
    }

    /// Regression: a run that wrote etcd's new certificate and stopped before the etcd step
    /// (Ctrl-C, a failed step) left etcd on the old certificate for good: the next run found
    /// every file in place and etcd active, and called it unchanged.
    #[tokio::test]
    async fn a_restart_left_pending_by_an_earlier_run_happens_on_the_next() {
        let inv = inventory();
        let state = state(&inv);
        let fake = FakeTransport::new("a")
            .has_file(&FileSpec::root("/etc/etcd/etcd.conf.yml", 0o644, CONF.as_bytes()))
            .answer(&Query::service_state("etcd"), "/etc/kubernetes/pki/etcd/server.crt\nactive\n")
            .accepts_commands()
            .answer(&healthy(), "");
        let (summary, changes) = run(&inv, &state, &fake).await;
        assert_eq!(summary, "0 files changed; etcd restarted and healthy (systemctl is-active only)");
        assert_eq!(changes, ["ran systemctl restart etcd (changed: /etc/kubernetes/pki/etcd/server.crt)"]);
        let outcome = &state.outcomes()[&inv.hosts[0].address][&SERVICE];
        assert_eq!(*outcome, ComponentOutcome::Restarted { changed: vec!["/etc/kubernetes/pki/etcd/server.crt".into()] });
        // The record goes with the restart, in the same command: it is not left to say so again.
        let Some(Intent::Command(restart)) = fake.intents().into_iter().find(|i| matches!(i, Intent::Command(_))) else { panic!("{:?}", fake.intents()) };
        assert!(restart.ends_with(&format!("&& rm -f {PENDING_DIR}/etcd")), "{restart}");
    }

    /// Files a service reads are recorded on the host before it is restarted, so a run that
    /// stops in between still restarts it next time.
    #[tokio::test]
    async fn changed_files_are_recorded_on_the_host_before_the_restart() {
        let inv = inventory();
        let state = state(&inv);
        let fake = FakeTransport::new("a")
            .no_files()
            .accepts_writes()
            .accepts_commands()
            .answer(&Query::service_state("etcd"), "/etc/etcd/etcd.conf.yml\nactive\n")
            .answer(&healthy(), "");
        let (_, changes) = run(&inv, &state, &fake).await;
        assert_eq!(
            changes,
            [
                "wrote /etc/etcd/etcd.conf.yml (new file)",
                "ran record pending restart of etcd (files they read changed)",
                "ran systemctl restart etcd (changed: /etc/etcd/etcd.conf.yml)",
            ]
        );
        assert_eq!(fake.written(), [["/etc/etcd/etcd.conf.yml"]]);
        assert_eq!(fake.queries(), [Query::service_state("etcd").query().clone(), healthy().query().clone()]);
        let outcome = &state.outcomes()[&inv.hosts[0].address][&SERVICE];
        assert_eq!(*outcome, ComponentOutcome::Restarted { changed: vec!["/etc/etcd/etcd.conf.yml".into()] });
    }

    /// A host where nothing changes: the health check the snapshot made (once, in its round
    /// trip) answers; no check of its own is run, no channel opened for it.
    #[tokio::test]
    async fn an_untouched_host_is_answered_by_the_snapshots_health_check() {
        let inv = inventory();
        let state = state(&inv);
        let fake = FakeTransport::new("a").has_file(&FileSpec::root("/etc/etcd/etcd.conf.yml", 0o644, CONF.as_bytes()));
        let gate = Gate::new(Mode::Apply);
        let snapshot = Snapshot::default();
        let ok = |text: &str| crate::transport::Output { status: 0, stdout: text.as_bytes().to_vec(), stderr: Vec::new() };
        snapshot.seed(Query::service_state("etcd").query(), ok("active\n"));
        let once = health_once(&inv, &inv.hosts[0], &state.bundle, &SERVICE);
        assert!(reads(&state, &inv, &inv.hosts[0], &[&SERVICE]).contains(&Read::query(&once)), "the snapshot reads the check");
        snapshot.seed(once.query(), ok(""));
        let cx = HostContext::new(&inv, &inv.hosts[0], &fake, &gate, &Progress::Silent, &snapshot);
        let summary = install(&cx, &state, &[&SERVICE]).await.unwrap();
        assert_eq!(summary, "0 files changed; etcd running, unchanged, healthy (systemctl is-active only)");
        assert!(fake.queries().is_empty(), "{:?}", fake.queries());
        // The same check failing in the snapshot is not believed either way: checked live, with its wait.
        let state = super::tests::state(&inv);
        let snapshot = Snapshot::default();
        snapshot.seed(Query::service_state("etcd").query(), ok("active\n"));
        snapshot.seed(once.query(), crate::transport::Output { status: 1, stdout: b"inactive".to_vec(), stderr: Vec::new() });
        let fake = FakeTransport::new("a").has_file(&FileSpec::root("/etc/etcd/etcd.conf.yml", 0o644, CONF.as_bytes())).answer(&healthy(), "");
        let cx = HostContext::new(&inv, &inv.hosts[0], &fake, &gate, &Progress::Silent, &snapshot);
        install(&cx, &state, &[&SERVICE]).await.unwrap();
        assert_eq!(fake.queries(), [healthy().query().clone()]);
    }

    #[test]
    fn pending_files_of_earlier_runs_join_this_runs() {
        let state = |active: bool, pending: &[&str]| ServiceState { active, pending: pending.iter().map(|p| p.to_string()).collect() };
        assert_eq!(restart_state(state(false, &[]), vec![]), (false, vec![]));
        assert_eq!(restart_state(state(true, &["/b", "/a"]), vec!["/a".into()]), (true, vec!["/a".into(), "/b".into()]));
    }
}
