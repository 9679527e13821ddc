//! Gather facts: one round trip per host reads every fact; the host's clock skew against this
//! machine is measured around it.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;

use crate::inventory::Inventory;
use crate::facts::{Facts, Query};
use crate::inventory::HostSpec;
use crate::runner::{HostContext, Read, Step, StepFuture};

/// Facts per host, with the clock skew (host minus controller, seconds).
pub type FactsStore = Arc<Mutex<BTreeMap<Ipv6Addr, (Facts, f64)>>>;

/// The "Gather facts" step.
pub struct GatherFacts {
    pub store: FactsStore,
    /// Every host of the cluster: each host's routes to the others are read too.
    pub peers: Vec<Ipv6Addr>,
}

/// The hosts `host` must reach.
fn peers(all: &[Ipv6Addr], host: &HostSpec) -> Vec<Ipv6Addr> {
    all.iter().copied().filter(|a| *a != host.address).collect()
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl Step for GatherFacts {
    fn title(&self) -> String {
        "Gather facts".into()
    }

    fn reads(&self, _: &Inventory, host: &HostSpec) -> Vec<Read> {
        vec![Read::query(&Query::facts()), Read::query(&Query::peer_routes(&peers(&self.peers, host)))]
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            // Read with the run's snapshot when there was one (the skew is measured around it).
            let ask = Query::facts();
            let (mut facts, (before, after)): (Facts, _) = match (cx.snapshot.query(ask.query()), cx.snapshot.window()) {
                (Some(output), Some(window)) if output.success() => (ask.parse(&output).context("read facts")?, window),
                _ => {
                    let before = now();
                    let facts = cx.read_fresh(&ask).await.context("read facts")?;
                    (facts, (before, now()))
                }
            };
            let skew = skew_within(facts.clock, before, after);
            // Read, not required: an answer missing here leaves the routes unjudged.
            facts.peer_routes = cx.query(&Query::peer_routes(&peers(&self.peers, cx.host))).await.ok();
            let summary = format!("{}, kernel {}", facts.os.pretty, facts.kernel_release);
            self.store.lock().unwrap_or_else(|p| p.into_inner()).insert(cx.host.address, (facts, skew));
            Ok(summary)
        })
    }
}

/// The least clock skew consistent with a host reading `clock` at some moment between this
/// machine's `before` and `after`: none when it falls in that window, else its distance to
/// the nearer end. (Measured from the window's middle, a snapshot that took long — a busy
/// host, a health check waiting — would look like a skew of half its time.)
fn skew_within(clock: f64, before: f64, after: f64) -> f64 {
    if clock < before {
        clock - before
    } else if clock > after {
        clock - after
    } else {
        0.0
    }
}

#[cfg(test)]
mod skew_tests {
    use super::skew_within;

    #[test]
    fn a_clock_read_inside_the_window_has_no_skew_and_outside_it_the_distance() {
        assert_eq!(skew_within(105.0, 100.0, 113.0), 0.0, "a 13 s snapshot is no skew");
        assert_eq!(skew_within(90.0, 100.0, 101.0), -10.0);
        assert_eq!(skew_within(111.5, 100.0, 101.0), 10.5);
    }
}
