//! `v6deploy lint` over a fixture tree of realistic files (tests/fixtures/lint): `bad/` has one
//! file per pitfall of the field report and `good/` the same files written for IPv6, which
//! must give no finding (with a binary file and a node_modules/ that are not read).

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_v6deploy");

fn lint(args: &[&str]) -> Output {
    Command::new(BIN).arg("lint").args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap()
}

fn text(output: &Output) -> String {
    format!("status {}\nstdout:\n{}\nstderr:\n{}", output.status, String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// (file name, line, rule) of every finding in a JSON report.
fn found(output: &Output) -> Vec<(String, u64, String)> {
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(output)));
    assert_eq!(json["schema"], 1);
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let file = Path::new(f["file"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned();
            assert!(f["column"].as_u64().unwrap() >= 1 && !f["message"].as_str().unwrap().is_empty() && !f["fix"].as_str().unwrap().is_empty(), "{f}");
            (file, f["line"].as_u64().unwrap(), f["rule"].as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn every_pitfall_of_the_fixture_tree_is_found_where_it_is() {
    let output = lint(&["--output", "json", "tests/fixtures/lint/bad"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let expected: Vec<(&str, u64, &str)> = vec![
        (".env", 1, "unbracketed-host-port"),
        (".env", 2, "ipv4-loopback"),
        ("application.properties", 1, "unbracketed-url"),
        ("application.properties", 2, "ipv4-wildcard"),
        ("config.toml", 2, "unbracketed-dsn"),
        ("deployment.yaml", 10, "ipv4-wildcard"),
        ("deployment.yaml", 10, "unbracketed-host-port"),
        ("deployment.yaml", 13, "ipv4-loopback"),
        ("deployment.yaml", 21, "kubernetes-ipv4-family"),
        ("elasticsearch.yml", 2, "elasticsearch-host"),
        ("elasticsearch.yml", 3, "unbracketed-host-port"),
        ("elasticsearch.yml", 3, "unbracketed-host-port"),
        ("gateway.json", 2, "ipv4-loopback"),
        ("gateway.json", 3, "unbracketed-host-port"),
        ("go.mod", 6, "go-redis"),
        ("go.mod", 7, "go-redis"),
        ("legacy.conf", 3, "ipv4-wildcard"),
        ("memcached.ini", 2, "ipv4-literal"),
        ("redis-client.yaml", 5, "unbracketed-host-port"),
        ("redis-client.yaml", 6, "unbracketed-host-port"),
        ("redis-client.yaml", 7, "unbracketed-url"),
        ("start.sh", 2, "java-prefer-ipv4"),
    ];
    let expected: Vec<(String, u64, String)> = expected.into_iter().map(|(f, l, r)| (f.to_string(), l, r.to_string())).collect();
    assert_eq!(found(&output), expected);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["silenced"], 1, "legacy.conf's relay line is allowed in place");
}

#[test]
fn the_correct_files_give_nothing_and_binary_and_vendored_files_are_not_read() {
    let output = lint(&["tests/fixtures/lint/good"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.trim(), "0 finding(s) in 0 file(s) (8 files read)", "{}", text(&output));
}

#[test]
fn text_output_names_place_rule_text_why_and_fix() {
    let output = lint(&["tests/fixtures/lint/bad/config.toml"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let first = stdout.lines().next().unwrap();
    assert!(first.starts_with("tests/fixtures/lint/bad/config.toml:2:26: unbracketed-dsn: `2002:db8:0:1::101:3306`: the Go MySQL driver"), "{first}");
    assert!(first.ends_with("write: bracket the address: tcp([2001:db8::5]:3306)"), "{first}");
    assert_eq!(stdout.lines().last().unwrap(), "1 finding(s) in 1 file(s) (1 files read)");
}

#[test]
fn rules_are_picked_and_skipped_and_bad_paths_are_usage_errors() {
    let only = lint(&["--output", "json", "--rule", "go-redis", "tests/fixtures/lint/bad"]);
    assert!(found(&only).iter().all(|(_, _, r)| r == "go-redis") && found(&only).len() == 2, "{}", text(&only));
    let skipped = lint(&["--output", "json", "--skip", "ipv4-wildcard", "--skip", "ipv4-loopback", "--skip", "ipv4-literal", "tests/fixtures/lint/bad"]);
    assert!(found(&skipped).iter().all(|(_, _, r)| !r.starts_with("ipv4")), "{}", text(&skipped));
    let missing = lint(&["tests/fixtures/lint/no-such-dir"]);
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read tests/fixtures/lint/no-such-dir"), "{}", text(&missing));
    let unknown = lint(&["--rule", "no-such-rule", "."]);
    assert_eq!(unknown.status.code(), Some(1), "{}", text(&unknown));
}
