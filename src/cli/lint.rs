//! `v6deploy lint PATH...`: the field report's application pitfalls in configuration files.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use v6deploy::exit;
use v6deploy::lint::{self, Report, Rule, Selection};

use super::run_args::OutputFormat;

/// Find what breaks on an IPv6-only site in application configuration, before the rollout:
/// IPv6 literals written as `host:port` without brackets (YAML, JSON, TOML, .properties,
/// .env and shell `KEY=value`, INI, flags in Kubernetes manifests), URLs (`redis://`,
/// `mysql://`, `http://`, ...) and Go MySQL DSNs `tcp(...)` with unbracketed IPv6 hosts,
/// IPv4 binds, loopbacks and literals (`0.0.0.0`, `127.0.0.1`, `localhost:PORT`),
/// go-redis versions whose cluster client splits `MOVED 14443 2002:db8:0:1::103:8533` wrongly
/// (go.mod), `-Djava.net.preferIPv4Stack=true`, Elasticsearch's `network.host` /
/// `publish_host` that is not IPv6, and Services with `ipFamilies: [IPv4]`.
///
/// Directories are read recursively (`.git`, `node_modules`, `vendor` and binary files
/// skipped), in parallel; nothing is run and nothing leaves this machine. Each finding names
/// `file:line:column`, the rule, the text, why it breaks and what to write. Silence one in
/// place with a comment on its line or the line before: `# v6deploy-lint: allow RULE` (or
/// `allow all`).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  v6deploy lint deploy/ charts/ config/app.properties\n  v6deploy lint --rule unbracketed-host-port --rule unbracketed-dsn .\n  v6deploy lint --skip ipv4-literal --output json . > lint.json\n\nExit codes: 0 nothing found, 2 findings, 1 usage error (a path that cannot be read).")]
pub struct Args {
    /// Files or directories to read.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Run only this rule (repeat for more).
    #[arg(long = "rule", value_enum, value_name = "RULE")]
    rules: Vec<Rule>,
    /// Do not run this rule (repeat for more).
    #[arg(long = "skip", value_enum, value_name = "RULE")]
    skips: Vec<Rule>,
    /// `text`: a line per finding and a summary; `json`: one document (docs/json.md).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let selection = Selection { only: args.rules.clone(), skip: args.skips.clone() };
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let report = lint::lint(&args.paths, &selection, threads)?;
    print(&report, args.output)?;
    Ok(ExitCode::from(if report.findings.is_empty() { exit::OK } else { exit::HOST_FAILED }))
}

fn print(report: &Report, output: OutputFormat) -> Result<()> {
    if output == OutputFormat::Json {
        return super::out::json(&serde_json::json!({"findings": report.findings, "files": report.files, "silenced": report.silenced}));
    }
    for f in &report.findings {
        out!("{}:{}:{}: {}: `{}`: {}; write: {}", f.file, f.line, f.column, f.rule.name(), f.text, f.message, f.fix);
    }
    let mut files: Vec<&str> = report.findings.iter().map(|f| f.file.as_str()).collect();
    files.dedup();
    let silenced = if report.silenced == 0 { String::new() } else { format!(", {} silenced in place", report.silenced) };
    out!("{} finding(s) in {} file(s) ({} files read{silenced})", report.findings.len(), files.len(), report.files);
    Ok(())
}
