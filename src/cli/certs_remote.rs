//! `certs check --remote`: the certificates each host holds (one round trip per host), in the
//! same table as the local check: file, subject, serial, not after, days left, issuer.

use std::process::ExitCode;

use anyhow::Result;
use time::OffsetDateTime;

use v6deploy::exit;
use v6deploy::inventory::Inventory;
use v6deploy::workflows::certs_remote::{HostCerts, read};

use super::run_args::RunArgs;

/// Reads and prints every host's certificates; exit [`exit::HOST_FAILED`] when a host cannot
/// be read or holds an expired or unreadable certificate, or one expiring within `warn_days`
/// is only warned about.
pub fn run(inv: &Inventory, run: &RunArgs, warn_days: u32, globals: &super::Globals) -> Result<ExitCode> {
    let results = read(&run.remote(globals)?, inv)?;
    let now = OffsetDateTime::now_utc();
    let mut bad = 0;
    let mut warned = 0;
    out!("{:<28} {:<52} {:<48} {:<47} {:<10} {:>5}  ISSUER", "HOST", "FILE", "SUBJECT", "SERIAL", "NOT AFTER", "DAYS");
    for HostCerts { host, certs } in &results {
        match certs {
            Err(e) => {
                bad += 1;
                out!("{host:<28} UNREACHABLE: {e}");
            }
            Ok(certs) => {
                for found in certs {
                    match &found.cert {
                        Err(why) => {
                            bad += 1;
                            out!("{host:<28} {:<52} UNREADABLE: {why}", found.path);
                        }
                        Ok(info) => {
                            let days = info.days_left(now);
                            let flag = if info.expired(now) {
                                bad += 1;
                                "  EXPIRED"
                            } else if days < i64::from(warn_days) {
                                warned += 1;
                                "  WARNING: expires soon"
                            } else {
                                ""
                            };
                            out!(
                                "{host:<28} {:<52} {:<48} {:<47} {:<10} {days:>5}  {}{flag}",
                                found.path,
                                info.subject.to_string(),
                                info.serial,
                                info.not_after.date().to_string(),
                                info.issuer
                            );
                        }
                    }
                }
            }
        }
    }
    out!("{} hosts: {bad} problems, {warned} certificates expiring within {warn_days} days", results.len());
    Ok(if bad > 0 { ExitCode::from(exit::HOST_FAILED) } else { ExitCode::SUCCESS })
}
