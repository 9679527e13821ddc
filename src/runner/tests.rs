//! Runner logic against the scripted fake transport: dry-run plan, failure handling, batching.

use std::sync::Arc;

use super::*;
use crate::inventory::Inventory;
use crate::transport::fake::FakeTransport;
use crate::transport::files::FileSpec;
use crate::transport::{Output, Transport, TransportError};

fn inventory() -> Inventory {
    crate::inventory::field_report()
}

fn connected(inv: &Inventory, fakes: &[Arc<FakeTransport>]) -> Vec<Connected> {
    inv.hosts.iter().zip(fakes).map(|(h, f)| Connected { host: h.clone(), transport: Ok(f.clone() as Arc<dyn Transport>) }).collect()
}

/// Writes one file through the gate.
struct WriteConf;

impl Step for WriteConf {
    fn title(&self) -> String {
        "write conf".into()
    }
    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let spec = FileSpec::root("/etc/v6deploy/test.conf", 0o644, &b"x\n"[..]);
            let changed = cx.files(&[spec]).await?;
            Ok(format!("{} changed", changed.len()))
        })
    }
}

/// Runs one command through the gate, restarting one at a time.
struct Restart;

impl Step for Restart {
    fn title(&self) -> String {
        "restart".into()
    }
    fn batch(&self) -> Batch {
        Batch::Rolling(1)
    }
    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            cx.command("restart thing", "systemctl restart thing", "config changed").await?;
            let _ = ();
            Ok("restarted".into())
        })
    }
}

fn runner(inv: &Inventory, mode: Mode) -> Runner<'_> {
    Runner::new(inv, RunOptions { mode, forks: 0, max_fail_percent: None }, Progress::Silent)
}

#[tokio::test]
async fn dry_run_records_the_plan_and_writes_nothing() {
    let inv = inventory();
    let fakes: Vec<Arc<FakeTransport>> = inv.hosts.iter().map(|h| Arc::new(FakeTransport::new(&h.address.to_string()).expect("sha256sum", "-\n"))).collect();
    let recap = runner(&inv, Mode::DryRun).run(connected(&inv, &fakes), &[Box::new(WriteConf), Box::new(Restart)]).await;
    for f in &fakes {
        f.verify();
        // Only the probe ran: no write script, no restart.
        assert_eq!(f.log().len(), 1, "{:?}", f.log());
    }
    let plan: Vec<String> = recap.changes.iter().map(|c| c.to_string()).collect();
    assert!(plan.contains(&"2002:db8:0:1::101: would write /etc/v6deploy/test.conf (new file)".to_string()), "{plan:?}");
    assert!(plan.contains(&"2002:db8:0:1::103: would run restart thing (config changed)".to_string()), "{plan:?}");
    assert_eq!(plan.len(), 6);
    assert!(recap.hosts.iter().all(|h| h.status == HostStatus::Changed));
    assert_eq!(recap.exit_code(), crate::exit::OK);
}

#[tokio::test]
async fn apply_writes_changed_files_only() {
    let inv = inventory();
    let same = FileSpec::root("/etc/v6deploy/test.conf", 0o644, &b"x\n"[..]).sha256().to_string();
    let fakes = vec![
        Arc::new(FakeTransport::new("a").expect("sha256sum", "-\n").expect("IFS= read -r sent", "")),
        Arc::new(FakeTransport::new("b").expect("sha256sum", &format!("644 root:root {same}\n"))),
        Arc::new(FakeTransport::new("c").expect("sha256sum", &format!("600 root:root {same}\n")).expect("IFS= read -r sent", "")),
    ];
    let recap = runner(&inv, Mode::Apply).run(connected(&inv, &fakes), &[Box::new(WriteConf)]).await;
    fakes.iter().for_each(|f| f.verify());
    assert_eq!(fakes[1].log().len(), 1, "unchanged host got a write: {:?}", fakes[1].log());
    let statuses: Vec<HostStatus> = recap.hosts.iter().map(|h| h.status).collect();
    assert_eq!(statuses, [HostStatus::Changed, HostStatus::Ok, HostStatus::Changed]);
    assert_eq!(recap.changes[1].reason, "mode/owner differ (was 600 root:root)");
}

#[tokio::test]
async fn a_failed_host_drops_out_and_the_others_finish() {
    let inv = inventory();
    let failing = Output { status: 1, stdout: Vec::new(), stderr: b"disk full".to_vec() };
    let fakes = vec![
        Arc::new(FakeTransport::new("a").expect("sha256sum", "-\n").expect("IFS= read -r sent", "").expect("systemctl", "")),
        Arc::new(FakeTransport::new("b").expect_output("sha256sum", failing, 1)),
        Arc::new(FakeTransport::new("c").expect("sha256sum", "-\n").expect("IFS= read -r sent", "").expect("systemctl", "")),
    ];
    let recap = runner(&inv, Mode::Apply).run(connected(&inv, &fakes), &[Box::new(WriteConf), Box::new(Restart)]).await;
    fakes.iter().for_each(|f| f.verify());
    let b = &recap.hosts[1];
    assert_eq!(b.status, HostStatus::Failed);
    assert!(b.error.as_deref().unwrap().contains("disk full"), "{:?}", b.error);
    assert_eq!(fakes[1].log().len(), 1, "failed host got later steps");
    assert_eq!(recap.hosts[2].status, HostStatus::Changed);
    assert_eq!(recap.exit_code(), crate::exit::HOST_FAILED);
    assert!(recap.failure_summary().unwrap().starts_with("failed on 1 host:\n - 2002:db8:0:1::102: write conf:"));
}

#[tokio::test]
async fn unreachable_host_is_reported_and_others_proceed() {
    let inv = inventory();
    let fakes: Vec<Arc<FakeTransport>> = (0..3).map(|i| Arc::new(FakeTransport::new(&i.to_string()).expect("sha256sum", "-\n").expect("IFS= read -r sent", ""))).collect();
    let mut hosts = connected(&inv, &fakes);
    hosts[0].transport = Err(TransportError::Timeout { host: "2002:db8:0:1::101".into(), port: 22, seconds: 5 });
    let recap = runner(&inv, Mode::Apply).run(hosts, &[Box::new(WriteConf)]).await;
    assert_eq!(recap.hosts[0].status, HostStatus::Unreachable);
    assert!(fakes[0].log().is_empty());
    assert_eq!(recap.hosts[1].status, HostStatus::Changed);
    assert_eq!(recap.exit_code(), crate::exit::HOST_FAILED);
}

#[tokio::test]
async fn max_fail_percent_stops_everyone() {
    let inv = inventory();
    let fakes: Vec<Arc<FakeTransport>> = (0..3).map(|i| Arc::new(FakeTransport::new(&i.to_string()).expect("sha256sum", "-\n").expect("IFS= read -r sent", ""))).collect();
    let mut hosts = connected(&inv, &fakes);
    hosts[0].transport = Err(TransportError::Timeout { host: "x".into(), port: 22, seconds: 5 });
    let mut r = runner(&inv, Mode::Apply);
    r.options.max_fail_percent = Some(20);
    let recap = r.run(hosts, &[Box::new(WriteConf)]).await;
    assert!(recap.stopped.as_deref().unwrap().contains("1 of 3 hosts failed or unreachable (33%), above --max-fail-percent 20"));
    assert!(fakes[1].log().is_empty() && fakes[2].log().is_empty());
    assert_eq!(recap.hosts[1].status, HostStatus::Skipped);
}

#[tokio::test]
async fn rolling_batch_stops_at_the_first_failure() {
    let inv = inventory();
    let failing = Output { status: 1, stdout: Vec::new(), stderr: b"unit failed".to_vec() };
    let fakes = vec![
        Arc::new(FakeTransport::new("a").expect("systemctl", "")),
        Arc::new(FakeTransport::new("b").expect_output("systemctl", failing, 1)),
        Arc::new(FakeTransport::new("c")),
    ];
    let recap = runner(&inv, Mode::Apply).run(connected(&inv, &fakes), &[Box::new(Restart)]).await;
    fakes.iter().for_each(|f| f.verify());
    assert!(fakes[2].log().is_empty(), "third host restarted after the second failed");
    assert!(recap.stopped.as_deref().unwrap().contains("rolling batch"));
    let statuses: Vec<HostStatus> = recap.hosts.iter().map(|h| h.status).collect();
    assert_eq!(statuses, [HostStatus::Changed, HostStatus::Failed, HostStatus::Skipped]);
}

/// A step whose connection drops while its command runs.
struct LosesConnection;

impl Step for LosesConnection {
    fn title(&self) -> String {
        "push".into()
    }
    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move { Err(anyhow::Error::from(TransportError::ConnectionLost { host: cx.label() }).context("write /etc/x")) })
    }
}

/// Regression: a connection lost mid-command (sshd killed) was reported as a failed command
/// (exit 255) instead of an unreachable host.
#[tokio::test]
async fn a_connection_lost_mid_command_makes_the_host_unreachable() {
    let inv = inventory();
    let fakes: Vec<Arc<FakeTransport>> = (0..3).map(|i| Arc::new(FakeTransport::new(&i.to_string()))).collect();
    let recap = runner(&inv, Mode::Apply).run(connected(&inv, &fakes), &[Box::new(LosesConnection)]).await;
    assert!(recap.hosts.iter().all(|h| h.status == HostStatus::Unreachable), "{:?}", recap.hosts);
    assert!(recap.hosts[0].error.as_deref().unwrap().contains("connection lost"), "{:?}", recap.hosts[0].error);
    assert_eq!(recap.exit_code(), crate::exit::HOST_FAILED);
}

/// [`WriteConf`], whose failure on one host stops every host.
struct WriteConfAllOrNone;

impl Step for WriteConfAllOrNone {
    fn title(&self) -> String {
        "write conf (all or none)".into()
    }
    fn all_or_none(&self) -> bool {
        true
    }
    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        WriteConf.run(cx)
    }
}

/// A step that fails on one host and must run on every host or none (an etcd restore): no
/// later step runs on the hosts where it succeeded (they would start etcd on diverging data).
#[tokio::test]
async fn an_all_or_none_step_that_fails_on_one_host_stops_every_host() {
    let inv = inventory();
    let failing = Output { status: 1, stdout: Vec::new(), stderr: b"restore failed".to_vec() };
    let fakes = vec![
        Arc::new(FakeTransport::new("a").expect("sha256sum", "-\n").expect("IFS= read -r sent", "")),
        Arc::new(FakeTransport::new("b").expect_output("sha256sum", failing, 1)),
        Arc::new(FakeTransport::new("c").expect("sha256sum", "-\n").expect("IFS= read -r sent", "")),
    ];
    let recap = runner(&inv, Mode::Apply).run(connected(&inv, &fakes), &[Box::new(WriteConfAllOrNone), Box::new(Restart)]).await;
    fakes.iter().for_each(|f| f.verify());
    assert!(fakes.iter().all(|f| !f.log().iter().any(|l| l.contains("systemctl restart"))), "a later step ran");
    assert!(recap.stopped.as_deref().unwrap().contains("no later step ran"), "{:?}", recap.stopped);
    assert_eq!(recap.exit_code(), crate::exit::HOST_FAILED);
}
