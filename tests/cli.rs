//! The command line as an operator meets it (issue 17): exit codes, a closed pipe, JSON
//! documents with their schema, `init`, where the PKI store lives, render and dry runs that
//! leave the store alone, the spinner and Ctrl-C on a terminal. No lab needed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn v6deploy(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_v6deploy")).current_dir(dir).args(args).env_remove("V6DEPLOY_INVENTORY").output().unwrap()
}

fn text(output: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn json(output: &Output) -> Value {
    let value: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(output)));
    assert_eq!(value["schema"], 1, "{value:#}");
    value
}

/// A directory with the field report's inventory copied into `inventories/`, its hosts at an
/// address nothing answers on, and ssh.private_key a key of its own.
fn project(hosts: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("inventories")).unwrap();
    let inventory = dir.path().join("inventories/cluster.yaml");
    let init = v6deploy(dir.path(), &["init", "--hosts", hosts, inventory.to_str().unwrap()]);
    assert!(init.status.success(), "{}", text(&init));
    let key = dir.path().join("inventories/key");
    let keygen = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).output().unwrap();
    assert!(keygen.status.success());
    let yaml = std::fs::read_to_string(&inventory).unwrap().replace("  # private_key: ~/.ssh/id_ed25519", "  private_key: key\n  known_hosts: known_hosts");
    let yaml = yaml.replace("  path: bundle ", "  missing: stage\n  path: bundle ");
    std::fs::write(&inventory, yaml).unwrap();
    (dir, inventory)
}

/// An address no host answers on (documentation prefix), reached within a second or refused.
const NOBODY: &str = "2001:db8:ffff::7";

/// No test reaches a host outside the lab: with the suite's V6DEPLOY_CONNECT_ONLY (the lab's
/// range, .cargo/config.toml), the field report's hosts (2002:db8::/32, a real 6to4 range)
/// are refused before a packet is sent, as unreachable.
#[test]
fn tests_never_connect_outside_the_lab() {
    assert_eq!(std::env::var("V6DEPLOY_CONNECT_ONLY").as_deref(), Ok("2001:db8:0::/48"), "cargo test sets it (.cargo/config.toml)");
    let (dir, inventory) = project("2002:db8:0:1::101");
    let started = std::time::Instant::now();
    let check = v6deploy(dir.path(), &["-i", inventory.to_str().unwrap(), "check", "--connect-timeout", "30"]);
    assert_eq!(check.status.code(), Some(2), "{}", text(&check));
    assert!(text(&check).contains("2002:db8:0:1::101 UNREACHABLE: not connecting: V6DEPLOY_CONNECT_ONLY=2001:db8:0::/48"), "{}", text(&check));
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "it waited for a connection: {:?}", started.elapsed());
}

#[test]
fn exit_codes_follow_one_table() {
    let (dir, inventory) = project(NOBODY);
    let i = inventory.to_str().unwrap();
    // clap's argument errors are usage errors: 1, not clap's own 2.
    assert_eq!(v6deploy(dir.path(), &["--no-such-flag"]).status.code(), Some(1));
    assert_eq!(v6deploy(dir.path(), &["-i", i, "install", "--forks", "many"]).status.code(), Some(1));
    assert_eq!(v6deploy(dir.path(), &["--help"]).status.code(), Some(0));
    assert_eq!(v6deploy(dir.path(), &["--version"]).status.code(), Some(0));
    // An inventory error: 1.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "cluster:\n  name: x\n").unwrap();
    assert_eq!(v6deploy(dir.path(), &["-i", bad.to_str().unwrap(), "inventory"]).status.code(), Some(1));
    // An unreachable host: 2, for check and for node add alike.
    let check = v6deploy(dir.path(), &["-i", i, "check", "--connect-timeout", "1"]);
    assert_eq!(check.status.code(), Some(2), "{}", text(&check));
    let add = v6deploy(dir.path(), &["-i", i, "node", "add", "--connect-timeout", "1", NOBODY]);
    assert_eq!(add.status.code(), Some(2), "{}", text(&add));
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let (dir, inventory) = project(NOBODY);
    for args in [&["inventory"][..], &["inventory", "--output", "json"], &["completions", "bash"], &["man"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_v6deploy")).current_dir(dir.path()).arg("-i").arg(&inventory).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        // Close the reading end at once, as `| head -0` would.
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{args:?}: {stderr}");
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

#[test]
fn json_documents_carry_schema_1_and_the_inventory_key_names() {
    let (dir, inventory) = project(NOBODY);
    let i = inventory.to_str().unwrap();
    let inv = json(&v6deploy(dir.path(), &["-i", i, "inventory", "--output", "json"]));
    assert_eq!(inv["ssh"]["become"], "none", "{inv:#}");
    assert_eq!(inv["network"]["manage"], false);
    assert!(inv["kernel"]["package"].is_null());
    assert_eq!(inv["hosts"][0]["address"], NOBODY);
    assert_eq!(inv["cluster"]["name"], "mycluster");
    // The old flag still works.
    assert_eq!(json(&v6deploy(dir.path(), &["-i", i, "inventory", "--json"]))["hosts"], inv["hosts"]);
    let generated = json(&v6deploy(dir.path(), &["-i", i, "certs", "generate", "--output", "json"]));
    assert!(generated["files"].as_array().unwrap().iter().any(|f| f["file"] == "ca.crt" && f["action"] == "created"), "{generated:#}");
    let checked = json(&v6deploy(dir.path(), &["-i", i, "certs", "check", "--output", "json"]));
    assert_eq!(checked["problems"], 0, "{checked:#}");
    assert!(checked["certificates"].as_array().unwrap().iter().any(|c| c["file"] == "apiserver.crt" && c["status"] == "ok" && c["alt_names"].as_array().is_some_and(|a| !a.is_empty())));
    let check = v6deploy(dir.path(), &["-i", i, "check", "--output", "json", "--connect-timeout", "1"]);
    let check = json(&check);
    assert_eq!(check["recap"]["hosts"][0]["status"], "unreachable", "{check:#}");
    let kernel = json(&v6deploy(dir.path(), &["-i", i, "kernel", "check", "--output", "json", "--connect-timeout", "1"]));
    assert_eq!(kernel["recap"]["hosts"][0]["host"], NOBODY, "{kernel:#}");
}

#[test]
fn init_writes_an_inventory_that_loads() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml");
    let init = v6deploy(dir.path(), &["init", "--hosts", "2001:db8::11,2001:db8::12,2001:db8::13,2001:db8::14", file.to_str().unwrap()]);
    assert!(init.status.success(), "{}", text(&init));
    let yaml = std::fs::read_to_string(&file).unwrap();
    assert!(yaml.contains("REQUIRED"), "{yaml}");
    let inv = json(&v6deploy(dir.path(), &["-i", file.to_str().unwrap(), "inventory", "--output", "json"]));
    assert_eq!(inv["hosts"].as_array().unwrap().len(), 4);
    assert_eq!(inv["hosts"][3]["roles"], serde_json::json!(["worker"]));
    // An existing file is kept.
    let again = v6deploy(dir.path(), &["init", file.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    // Without FILE, the example goes to stdout.
    let stdout = v6deploy(dir.path(), &["init"]);
    assert!(String::from_utf8_lossy(&stdout.stdout).contains("2001:db8:0:1::101"));
}

/// `pki.dir` is relative to the inventory: the same store whatever the current directory.
#[test]
fn the_pki_store_is_found_from_any_directory() {
    let (dir, inventory) = project(NOBODY);
    let elsewhere = tempfile::tempdir().unwrap();
    let generate = v6deploy(elsewhere.path(), &["-i", inventory.to_str().unwrap(), "certs", "generate"]);
    assert!(generate.status.success(), "{}", text(&generate));
    let store = dir.path().join("inventories/certs/mycluster");
    assert!(store.join("ca.crt").exists(), "{}", text(&generate));
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0, "the store was made in the current directory");
    let check = v6deploy(dir.path(), &["-i", inventory.to_str().unwrap(), "certs", "check"]);
    assert!(check.status.success(), "{}", text(&check));
}

/// `render` and `install --dry-run` use a scratch copy: no store is created, an existing one
/// is not changed (byte for byte).
#[test]
fn render_and_dry_runs_leave_the_store_untouched() {
    let (dir, inventory) = project(NOBODY);
    let i = inventory.to_str().unwrap();
    let store = dir.path().join("inventories/certs/mycluster");
    let out = dir.path().join("out");
    let render = v6deploy(dir.path(), &["-i", i, "render", "--dir", out.to_str().unwrap()]);
    assert!(render.status.success(), "{}", text(&render));
    assert!(String::from_utf8_lossy(&render.stderr).contains("scratch copy"), "{}", text(&render));
    assert!(!store.exists(), "render created the store");
    let dry = v6deploy(dir.path(), &["-i", i, "install", "--dry-run", "--connect-timeout", "1"]);
    assert_eq!(dry.status.code(), Some(2), "{}", text(&dry));
    assert!(!store.exists(), "install --dry-run created the store:\n{}", text(&dry));
    assert!(v6deploy(dir.path(), &["-i", i, "certs", "generate"]).status.success());
    // A host that is not in the store yet: a dry run issues its certificates in the copy.
    let grown = std::fs::read_to_string(&inventory).unwrap().replace("bundle:\n", "  - address: \"2001:db8:ffff::8\"\n    roles: [worker]\n    interface: eth0\nbundle:\n");
    std::fs::write(&inventory, grown).unwrap();
    let before = read_tree(&store);
    let forced = v6deploy(dir.path(), &["-i", i, "render", "-o", out.to_str().unwrap(), "--force"]);
    assert!(forced.status.success(), "{}", text(&forced));
    let dry = v6deploy(dir.path(), &["-i", i, "install", "--dry-run", "--connect-timeout", "1"]);
    assert_eq!(dry.status.code(), Some(2), "{}", text(&dry));
    assert!(before == read_tree(&store), "render or install --dry-run changed the store");
}

#[test]
fn completions_man_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let bash = v6deploy(dir.path(), &["completions", "bash"]);
    assert!(String::from_utf8_lossy(&bash.stdout).contains("v6deploy"), "{}", text(&bash));
    let man = String::from_utf8_lossy(&v6deploy(dir.path(), &["man"]).stdout).into_owned();
    assert!(man.contains(".TH v6deploy 1") && man.contains("V6DEPLOY INSTALL"), "{man}");
    let version = String::from_utf8_lossy(&v6deploy(dir.path(), &["--version"]).stdout).into_owned();
    assert!(regex::Regex::new(r"^v6deploy \d+\.\d+\.\d+ \(([0-9a-f]{12}(-dirty)?|unknown)\)\n$").unwrap().is_match(&version), "{version}");
}

#[test]
fn help_shows_no_doubled_defaults_and_no_idle_flags() {
    let dir = tempfile::tempdir().unwrap();
    let help = |args: &[&str]| String::from_utf8_lossy(&v6deploy(dir.path(), args).stdout).into_owned();
    let install = help(&["install", "--help"]);
    assert!(!install.contains("(default: all) [default: 0]"), "{install}");
    assert!(install.contains("Examples:"), "{install}");
    assert!(!help(&["certs", "--help"]).contains("(see --help)"));
    for command in ["nodename", "lab"] {
        assert!(!help(&[command, "--help"]).contains("--inventory"), "{command}");
    }
}

/// Every file under `dir` with its bytes.
fn read_tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.insert(path.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&path).unwrap());
            }
        }
    }
    found
}

/// On a terminal (tmux): a spinner per host with the time spent connecting; the first Ctrl-C
/// abandons the pending connection at once (not after --connect-timeout), exit 130. Skipped
/// without tmux or without a global IPv6 address on this machine to listen on.
#[test]
fn a_terminal_shows_the_wait_and_ctrl_c_ends_it() {
    let has_tmux = Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success());
    let addresses = Command::new("ip").args(["-6", "-o", "addr", "show", "scope", "global"]).output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    let address = addresses.split_whitespace().skip_while(|w| *w != "inet6").nth(1).and_then(|a| a.split('/').next()).map(str::to_string);
    let (true, Some(address)) = (has_tmux, address) else {
        eprintln!("skipped: no tmux or no global IPv6 address");
        return;
    };
    // Accepts and never answers: the SSH handshake waits.
    let listener = std::net::TcpListener::bind((address.parse::<std::net::Ipv6Addr>().unwrap(), 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (dir, inventory) = project(&address);
    let yaml = std::fs::read_to_string(&inventory).unwrap().replace("  # port: 22 ", &format!("  port: {port} "));
    std::fs::write(&inventory, yaml).unwrap();
    let session = format!("v6deploy-ux-{}", std::process::id());
    let done = dir.path().join("exit");
    // This machine's own address: allowed beside the lab's range (see .cargo/config.toml).
    let script = format!("V6DEPLOY_CONNECT_ONLY={address}/128 {} -i {} check --connect-timeout 60; echo $? > {}; sleep 60", env!("CARGO_BIN_EXE_v6deploy"), inventory.display(), done.display());
    let tmux = |args: &[&str]| Command::new("tmux").args(args).output().unwrap();
    assert!(tmux(&["new-session", "-d", "-s", &session, "-x", "150", "-y", "20", &script]).status.success());
    let pane = || String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", &session]).stdout).into_owned();
    std::thread::sleep(std::time::Duration::from_secs(3));
    let waiting = pane();
    let started = std::time::Instant::now();
    tmux(&["send-keys", "-t", &session, "C-c"]);
    while !done.exists() && started.elapsed().as_secs() < 10 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let after = pane();
    tmux(&["kill-session", "-t", &session]);
    drop(listener);
    assert!(waiting.contains(&address) && waiting.contains("connecting over SSH") && regex::Regex::new(r" \d+s connecting").unwrap().is_match(&waiting), "{waiting}");
    assert_eq!(std::fs::read_to_string(&done).unwrap_or_default().trim(), "130", "{after}");
    assert!(started.elapsed().as_secs() < 10, "Ctrl-C waited out the connect timeout");
    assert!(after.contains("interrupted"), "{after}");
}

/// `render`, `certs csr` and `certs import` report in JSON too (schema 1, parsed).
#[test]
fn render_csr_and_import_report_json() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("field-report.yaml");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/inventories/field-report.yaml"), &inventory).unwrap();
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_v6deploy")).arg("-i").arg(&inventory).args(args).output().unwrap();
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&output.stdout)))
    };
    let out = dir.path().join("out");
    let render = run(&["render", "--dir", out.to_str().unwrap(), "--output", "json"]);
    assert_eq!(render["schema"], 1);
    assert_eq!(render["hosts"].as_array().unwrap().len(), 3);
    assert!(render["files"].as_u64().unwrap() > 100, "{render}");
    run(&["certs", "generate", "--output", "json"]);
    let csrs = dir.path().join("csrs");
    let csr = run(&["certs", "csr", "--dir", csrs.to_str().unwrap(), "--output", "json"]);
    assert_eq!(csr["schema"], 1);
    assert!(!csr["exported"].as_array().unwrap().is_empty(), "{csr}");
    // The signed certificate back: here the store's own, so it is unchanged.
    std::fs::copy(dir.path().join("certs/field-report/apiserver.crt"), csrs.join("apiserver.crt")).unwrap();
    let import = run(&["certs", "import", csrs.to_str().unwrap(), "--output", "json"]);
    assert_eq!(import["schema"], 1);
    assert_eq!(import["unchanged"], serde_json::json!(["apiserver.crt"]), "{import}");
}

/// `kubeconfig` prints a kubeconfig with a client certificate of the user's own, pointing at
/// the first control plane over IPv6 (bracketed).
#[test]
fn kubeconfig_prints_a_users_own_kubeconfig() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("field-report.yaml");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/inventories/field-report.yaml"), &inventory).unwrap();
    let v6deploy = |args: &[&str]| std::process::Command::new(env!("CARGO_BIN_EXE_v6deploy")).arg("-i").arg(&inventory).args(args).output().unwrap();
    assert!(v6deploy(&["certs", "generate"]).status.success());
    let output = v6deploy(&["kubeconfig", "--user", "alice", "--group", "system:masters"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("server: https://[2002:db8:0:1::101]:6443"), "{text}");
    assert!(text.contains("name: \"alice\"") && text.contains("client-key-data:"), "{text}");
    assert!(dir.path().join("certs/field-report/users/alice.crt").exists());
    let bad = v6deploy(&["kubeconfig", "--user", "a b"]);
    assert_eq!(bad.status.code(), Some(1));
}

/// The attacks of the security review on `kubeconfig`: user names that are paths replaced the
/// store's CA certificate (`../ca`) and the apiserver's (`../apiserver`) or wrote outside the
/// store (`../../x`); Kubernetes' own identities were issued silently. All are refused now,
/// nothing in or beside the store changes, and `--allow-system-name` is the way to mean it.
#[test]
fn kubeconfig_refuses_path_user_names_and_kubernetes_identities() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("field-report.yaml");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/inventories/field-report.yaml"), &inventory).unwrap();
    let v6deploy = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_v6deploy")).arg("-i").arg(&inventory).args(args).current_dir(dir.path()).output().unwrap();
    assert!(v6deploy(&["certs", "generate"]).status.success());
    let before = read_tree(dir.path());
    for user in ["../ca", "../../x", "../apiserver", "users/../../ca"] {
        let refused = v6deploy(&["kubeconfig", "--user", user, "--file", "u.conf"]);
        assert_eq!(refused.status.code(), Some(1), "--user {user}: {}", text(&refused));
        assert!(String::from_utf8_lossy(&refused.stderr).contains("letters, digits"), "--user {user}: {}", text(&refused));
    }
    for (user, group) in [("system:kube-controller-manager", None), ("system:node:2002.0db8.0000.0001.0000.0000.0000.0101", Some("system:nodes")), ("system:anonymous", None), ("mallory", Some("system:nodes"))] {
        let mut args = vec!["kubeconfig", "--user", user, "--file", "u.conf"];
        args.extend(group.iter().flat_map(|g| ["--group", *g]));
        let refused = v6deploy(&args);
        assert_eq!(refused.status.code(), Some(1), "{args:?}: {}", text(&refused));
        assert!(String::from_utf8_lossy(&refused.stderr).contains("--allow-system-name"), "{args:?}: {}", text(&refused));
    }
    assert_eq!(read_tree(dir.path()), before, "a refused kubeconfig changed files");
    let meant = v6deploy(&["kubeconfig", "--user", "system:kube-scheduler", "--allow-system-name", "--file", "s.conf"]);
    assert!(meant.status.success(), "{}", text(&meant));
    let admin = v6deploy(&["kubeconfig", "--user", "alice", "--group", "system:masters", "--file", "a.conf"]);
    assert!(admin.status.success(), "{}", text(&admin));
    assert!(String::from_utf8_lossy(&admin.stderr).contains("every right on the cluster"), "{}", text(&admin));
}

/// `kubeconfig --dry-run` checks the CA and issues nothing; `--output json` gives the
/// certificate's subject, serial (the one openssl reads in the store's copy) and end date,
/// and the kubeconfig unless --file took it.
#[test]
fn kubeconfig_dry_run_issues_nothing_and_json_describes_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("field-report.yaml");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/inventories/field-report.yaml"), &inventory).unwrap();
    let v6deploy = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_v6deploy")).arg("-i").arg(&inventory).args(args).output().unwrap();
    let recorded = dir.path().join("certs/field-report/users/ci-bot.crt");

    let no_ca = v6deploy(&["kubeconfig", "--user", "ci-bot", "--dry-run"]);
    assert_eq!(no_ca.status.code(), Some(1), "{}", text(&no_ca));
    assert!(String::from_utf8_lossy(&no_ca.stderr).contains("certs generate") || String::from_utf8_lossy(&no_ca.stderr).contains("ca.crt"), "{}", text(&no_ca));
    assert!(v6deploy(&["certs", "generate"]).status.success());

    let dry = v6deploy(&["kubeconfig", "--user", "ci-bot", "--group", "deployers", "--days", "30", "--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry));
    let said = String::from_utf8_lossy(&dry.stdout);
    assert!(said.contains("O = deployers, CN = ci-bot") && said.contains("valid 30 days") && said.contains("https://[2002:db8:0:1::101]:6443"), "{said}");
    assert!(!recorded.exists(), "a dry run recorded a certificate");
    let dry_json = json(&v6deploy(&["kubeconfig", "--user", "ci-bot", "--dry-run", "--output", "json"]));
    assert_eq!((dry_json["dry_run"].as_bool(), dry_json["serial"].is_null(), dry_json["kubeconfig"].is_null()), (Some(true), true, true), "{dry_json:#}");
    assert!(!recorded.exists());

    let issued = json(&v6deploy(&["kubeconfig", "--user", "ci-bot", "--group", "deployers", "--days", "30", "--output", "json"]));
    assert_eq!(issued["user"], "ci-bot");
    assert_eq!(issued["group"], "deployers");
    assert_eq!(issued["server"], "https://[2002:db8:0:1::101]:6443");
    assert!(issued["kubeconfig"].as_str().unwrap().contains("client-key-data:"), "{issued:#}");
    let openssl = Command::new("openssl").args(["x509", "-noout", "-serial", "-subject", "-in"]).arg(&recorded).output().unwrap();
    let openssl = String::from_utf8_lossy(&openssl.stdout).to_string();
    let serial = issued["serial"].as_str().unwrap().replace(':', "").to_uppercase();
    assert!(openssl.to_uppercase().contains(&format!("SERIAL={}", serial.trim_start_matches('0'))) || openssl.to_uppercase().contains(&format!("SERIAL={serial}")), "{openssl} vs {issued:#}");
    assert!(openssl.contains("O = deployers, CN = ci-bot") || openssl.contains("O=deployers, CN=ci-bot"), "{openssl}");
    let days = (time::OffsetDateTime::parse(issued["not_after"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap() - time::OffsetDateTime::now_utc()).whole_days();
    assert!((29..=30).contains(&days), "{issued:#}");

    let file = dir.path().join("ci-bot.conf");
    let to_file = json(&v6deploy(&["kubeconfig", "--user", "ci-bot", "--output", "json", "--file", file.to_str().unwrap()]));
    assert!(to_file["kubeconfig"].is_null() && to_file["file"] == file.to_str().unwrap(), "{to_file:#}");
    assert!(std::fs::read_to_string(&file).unwrap().contains("client-key-data:"));
}
