//! The end of a run: per host ok / changed / failed / unreachable, like Ansible's recap, as a
//! table or JSON, and the exit code.

use serde::Serialize;

use crate::exit;

/// How a host ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostStatus {
    /// Every step succeeded and nothing changed.
    Ok,
    /// Every step succeeded and something changed (or would, in dry-run).
    Changed,
    /// A step failed on the host.
    Failed,
    /// The host could not be reached (connect, host key, auth, or connection lost).
    Unreachable,
    /// Not run: the run was stopped (`--max-fail-percent`, Ctrl-C).
    Skipped,
}

/// The worse of two statuses of one host in two runs.
fn worse(a: HostStatus, b: HostStatus) -> HostStatus {
    let rank = |s: HostStatus| match s {
        HostStatus::Ok => 0,
        HostStatus::Changed => 1,
        HostStatus::Skipped => 2,
        HostStatus::Failed => 3,
        HostStatus::Unreachable => 4,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// One host's result.
#[derive(Debug, Clone, Serialize)]
pub struct HostRecap {
    pub host: String,
    pub name: String,
    /// How the host was reached: `root@[2001:db8::102]:22`, then ` via bastion
    /// root@[2001:db8::101]:22` when through one (see `Inventory::route`).
    pub route: String,
    /// `via bastion [2001:db8::101]:22` when through a bastion: what the table row adds.
    #[serde(skip)]
    pub via: Option<String>,
    pub status: HostStatus,
    /// Steps that ran to completion on the host.
    pub steps_done: usize,
    pub changes: usize,
    /// The error, with its cause chain, when failed or unreachable.
    pub error: Option<String>,
    /// Per-step summaries ("step: summary").
    pub notes: Vec<String>,
}

/// The whole run's result.
#[derive(Debug, Clone, Serialize)]
pub struct Recap {
    pub hosts: Vec<HostRecap>,
    /// Titles of the steps that ran, in order.
    pub steps: Vec<String>,
    /// Wall time of each of `steps` over all hosts, in milliseconds (same order).
    pub step_ms: Vec<u64>,
    /// Why the run stopped early, if it did.
    pub stopped: Option<String>,
    /// Whether Ctrl-C ended the run (the recap says "interrupted", the exit code is 130).
    pub interrupted: bool,
    pub changes: Vec<super::Change>,
}

impl Recap {
    /// [`exit::OK`] when every host is ok/changed, [`exit::INTERRUPTED`] after Ctrl-C,
    /// [`exit::HOST_FAILED`] otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.interrupted {
            exit::INTERRUPTED
        } else if self.succeeded() {
            exit::OK
        } else {
            exit::HOST_FAILED
        }
    }

    /// This run followed by `later` (a command of two runs, e.g. `node remove`): each host
    /// once, in this run's order then the hosts only `later` had, with its steps and changes
    /// added up and the worse status; the steps, changes and stop reason of both.
    pub fn then(mut self, later: Recap) -> Recap {
        for host in later.hosts {
            match self.hosts.iter_mut().find(|h| h.host == host.host) {
                Some(first) => {
                    first.status = worse(first.status, host.status);
                    first.steps_done += host.steps_done;
                    first.changes += host.changes;
                    first.error = first.error.take().or(host.error);
                    first.notes.extend(host.notes);
                }
                None => self.hosts.push(host),
            }
        }
        self.steps.extend(later.steps);
        self.step_ms.extend(later.step_ms);
        self.stopped = self.stopped.or(later.stopped);
        self.interrupted |= later.interrupted;
        self.changes.extend(later.changes);
        self
    }

    /// Whether every host ended ok or changed and the run was not stopped.
    pub fn succeeded(&self) -> bool {
        self.hosts.iter().all(|h| matches!(h.status, HostStatus::Ok | HostStatus::Changed)) && self.stopped.is_none()
    }

    /// Hosts that did not finish, as "failed on N hosts:\n - host: err".
    pub fn failure_summary(&self) -> Option<String> {
        let bad: Vec<&HostRecap> = self.hosts.iter().filter(|h| matches!(h.status, HostStatus::Failed | HostStatus::Unreachable)).collect();
        if bad.is_empty() {
            return None;
        }
        let mut text = format!("failed on {} host{}:", bad.len(), if bad.len() == 1 { "" } else { "s" });
        for h in bad {
            text.push_str(&format!("\n - {}: {}", h.host, h.error.as_deref().unwrap_or("failed")));
        }
        Some(text)
    }

    /// The recap table.
    pub fn table(&self) -> String {
        let mut out = String::from("RECAP\n");
        for h in &self.hosts {
            let status = match h.status {
                HostStatus::Ok => "ok",
                HostStatus::Changed => "changed",
                HostStatus::Failed => "FAILED",
                HostStatus::Unreachable => "UNREACHABLE",
                HostStatus::Skipped => "skipped",
            };
            out.push_str(&format!("{:<28} {:<12} steps={:<3} changed={:<4}", h.host, status, h.steps_done, h.changes));
            if let Some(via) = &h.via {
                out.push_str(&format!(" {via}"));
            }
            if let Some(e) = &h.error {
                out.push_str(&format!(" {e}"));
            }
            out.push('\n');
        }
        if self.interrupted {
            out.push_str("interrupted (Ctrl-C): the hosts were left as the last finished step left them\n");
        }
        if let Some(s) = &self.stopped {
            out.push_str(&format!("stopped: {s}\n"));
        }
        if !self.steps.is_empty() {
            let each: Vec<String> = self.steps.iter().zip(&self.step_ms).map(|(title, ms)| format!("{title} {:.2}", *ms as f64 / 1000.0)).collect();
            let total: u64 = self.step_ms.iter().sum();
            out.push_str(&format!("time: {:.2} s in steps ({} s)\n", total as f64 / 1000.0, each.join(", ")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dry run's recap shows the route of a host reached through a bastion.
    #[test]
    fn a_row_ends_with_the_bastion_the_host_was_reached_through() {
        let inv = crate::inventory::field_report();
        let row = |host: &crate::inventory::HostSpec| {
            let route = inv.route(host);
            HostRecap { host: host.address.to_string(), name: host.name.to_string(), route: route.to_string(), via: route.via(), status: HostStatus::Changed, steps_done: 3, changes: 1, error: None, notes: vec![] }
        };
        let mut recap = Recap { hosts: vec![row(&inv.hosts[0])], steps: vec![], step_ms: vec![], stopped: None, interrupted: false, changes: vec![] };
        assert!(recap.table().lines().nth(1).unwrap().trim_end().ends_with("changed=1"), "{}", recap.table());
        let mut behind = inv.clone();
        behind.ssh.bastion = Some(crate::inventory::Bastion { address: "2002:db8:0:1::10".parse().unwrap(), user: inv.ssh.user.clone(), port: 22, private_key: "/k".into() });
        let route = behind.route(&inv.hosts[1]);
        recap.hosts = vec![HostRecap { route: route.to_string(), via: route.via(), ..recap.hosts[0].clone() }];
        assert!(recap.table().lines().nth(1).unwrap().ends_with("changed=1    via bastion [2002:db8:0:1::10]:22"), "{}", recap.table());
        let json = serde_json::to_value(&recap.hosts[0]).unwrap();
        assert_eq!(json["route"], "root@[2002:db8:0:1::102]:22 via bastion root@[2002:db8:0:1::10]:22");
        assert!(json.get("via").is_none());
    }

    fn host(label: &str, status: HostStatus, changes: usize) -> HostRecap {
        HostRecap { host: label.into(), name: String::new(), route: String::new(), via: None, status, steps_done: 1, changes, error: None, notes: vec![format!("{label} {changes}")] }
    }

    fn recap(hosts: Vec<HostRecap>, step: &str) -> Recap {
        Recap { hosts, steps: vec![step.into()], step_ms: vec![1], stopped: None, interrupted: false, changes: Vec::new() }
    }

    #[test]
    fn two_runs_add_up_per_host_with_the_worse_status() {
        let first = recap(vec![host("a", HostStatus::Changed, 2), host("b", HostStatus::Ok, 0)], "one");
        let second = recap(vec![host("b", HostStatus::Failed, 1), host("c", HostStatus::Ok, 0)], "two");
        let both = first.then(second);
        let hosts: Vec<(&str, HostStatus, usize, usize)> = both.hosts.iter().map(|h| (h.host.as_str(), h.status, h.steps_done, h.changes)).collect();
        assert_eq!(hosts, [("a", HostStatus::Changed, 1, 2), ("b", HostStatus::Failed, 2, 1), ("c", HostStatus::Ok, 1, 0)]);
        assert_eq!(both.steps, ["one", "two"]);
        assert_eq!(both.exit_code(), exit::HOST_FAILED);
    }
}
