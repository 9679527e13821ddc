//! `certs check --remote`: the certificates each host holds (one round trip per host): file,
//! not after, days left and status, then subject, issuer and serial on a second line (fits
//! ~120 columns); or one JSON document (`--output json`).

use std::process::ExitCode;

use anyhow::Result;
use time::OffsetDateTime;

use v6deploy::exit;
use v6deploy::inventory::Inventory;
use v6deploy::workflows::certs_remote::{HostCerts, read};

use super::run_args::{OutputFormat, RunArgs};

/// Reads and prints every host's certificates; exit [`exit::HOST_FAILED`] when a host cannot
/// be read or holds an expired or unreadable certificate (one expiring within `warn_days` is
/// only warned about).
pub fn run(inv: &Inventory, run: &RunArgs, warn_days: u32, globals: &super::Globals) -> Result<ExitCode> {
    let results = read(&run.remote(globals)?, inv)?;
    let now = OffsetDateTime::now_utc();
    let (mut bad, mut warned) = (0, 0);
    let mut hosts = Vec::new();
    let text = run.output == OutputFormat::Text;
    if text {
        out!("{:<64} {:<10} {:>5}  STATUS", "HOST / FILE", "NOT AFTER", "DAYS");
    }
    for HostCerts { host, certs } in &results {
        let certs = match certs {
            Err(e) => {
                bad += 1;
                if text {
                    out!("{host} UNREACHABLE: {}", e.strip_prefix(&format!("{host}: ")).unwrap_or(e));
                }
                hosts.push(serde_json::json!({"host": host, "error": e}));
                continue;
            }
            Ok(certs) => certs,
        };
        if text {
            out!("{host}");
        }
        let mut files = Vec::new();
        for found in certs {
            let info = match &found.cert {
                Err(why) => {
                    bad += 1;
                    if text {
                        out!("  {:<62} UNREADABLE: {why}", found.path);
                    }
                    files.push(serde_json::json!({"file": found.path, "status": "unreadable", "error": why}));
                    continue;
                }
                Ok(info) => info,
            };
            let days = info.days_left(now);
            let status = if info.expired(now) {
                bad += 1;
                "expired"
            } else if days < i64::from(warn_days) {
                warned += 1;
                "expires-soon"
            } else {
                "ok"
            };
            if text {
                let shown = match status {
                    "expired" => "EXPIRED",
                    "expires-soon" => "WARNING: expires soon",
                    _ => "ok",
                };
                out!("  {:<62} {:<10} {days:>5}  {shown}", found.path, info.not_after.date().to_string());
                out!("      subject {}; issuer {}; serial {}", info.subject, info.issuer, info.serial);
            }
            files.push(serde_json::json!({
                "file": found.path, "subject": info.subject.to_string(), "issuer": info.issuer.to_string(),
                "serial": info.serial, "not_after": info.not_after.date().to_string(), "days_left": days, "status": status,
            }));
        }
        hosts.push(serde_json::json!({"host": host, "certificates": files}));
    }
    if text {
        out!("{}: {}, {warned} certificates expiring within {warn_days} days", super::plural(results.len(), "host"), super::plural(bad, "problem"));
    } else {
        super::out::json(&serde_json::json!({"hosts": hosts, "problems": bad, "expiring": warned, "warn_days": warn_days}))?;
    }
    Ok(if bad > 0 { ExitCode::from(exit::HOST_FAILED) } else { ExitCode::SUCCESS })
}
