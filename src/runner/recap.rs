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
}
