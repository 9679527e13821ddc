//! Tests of `files`: the real scripts run with the local `sh` against temp directories.

use super::*;

fn spec(path: &str, contents: &str) -> FileSpec {
    FileSpec::root(path, 0o644, contents.as_bytes())
}

#[test]
fn probe_output_maps_to_states() {
    let specs = [spec("/a", "x"), spec("/b", "y"), spec("/c", "z"), spec("/d", "w")];
    let output = format!(
        "-\n644 root:root {}\n600 root:root {}\n644 root:root {}\n",
        spec("", "other").sha256(),
        specs[2].sha256(),
        specs[3].sha256()
    );
    let states = parse_probe(&output, &specs).unwrap();
    assert_eq!(
        states,
        [FileState::Missing, FileState::Content, FileState::Attributes { was: "600 root:root".into() }, FileState::Same]
    );
    assert!(parse_probe("-\n", &specs).is_err());
}

/// Runs the real scripts with the local `sh` against a temp directory.
#[test]
fn scripts_write_atomically_and_probe_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    let owner = String::from_utf8(std::process::Command::new("sh").arg("-c").arg("echo $(id -un):$(id -gn)").output().unwrap().stdout).unwrap().trim().to_string();
    let specs: Vec<FileSpec> = [("a/b/one.conf", "one\n"), ("two with space", "it's\n$(x)\n"), ("empty", "")]
        .iter()
        .map(|(p, c)| FileSpec::new(format!("{root}/{p}"), 0o640, owner.clone(), c.as_bytes()))
        .collect();
    let refs: Vec<&FileSpec> = specs.iter().collect();
    assert!(run_write(&refs).success());
    for s in &specs {
        assert_eq!(std::fs::read(&s.path).unwrap(), &*s.contents.load().unwrap());
    }
    let leftovers: Vec<_> = walk(dir.path()).into_iter().filter(|p| p.contains(".v6deploy.")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let paths: Vec<&str> = specs.iter().map(|s| s.path.as_str()).collect();
    let out = std::process::Command::new("sh").arg("-c").arg(probe_script(&paths)).output().unwrap();
    let states = parse_probe(&String::from_utf8(out.stdout).unwrap(), &specs).unwrap();
    assert!(states.iter().all(|s| *s == FileState::Same), "{states:?}");
}

/// The scripts' process count does not grow with the files, beyond `head` and `mv` per
/// written file: forking is what a batch costs on the host.
#[test]
fn scripts_start_a_fixed_number_of_processes_per_batch() {
    let specs: Vec<FileSpec> = (0..20).map(|i| FileSpec::root(format!("/etc/d{}/f{i}", i % 2), 0o600 + (i % 2) * 0o44, vec![b'x'; i as usize])).collect();
    let refs: Vec<&FileSpec> = specs.iter().collect();
    let script = write_script(&refs).script;
    let count = |prefix: &str| script.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!((count("head -c "), count("mv -f "), count("chmod "), count("chown "), count("mkdir "), count("sync ")), (20, 2, 2, 0, 2, 2), "{script}");
    assert_eq!(script.lines().filter(|l| l.contains("stat -c %s")).count(), 1);
    let paths: Vec<&str> = specs.iter().map(|s| s.path.as_str()).collect();
    let probe = probe_script(&paths);
    assert_eq!((probe.matches("stat ").count(), probe.matches("sha256sum ").count()), (1, 1), "{probe}");
}

#[test]
fn short_stdin_leaves_no_file_and_no_temp() {
    let dir = tempfile::tempdir().unwrap();
    let target = format!("{}/kubelet.conf", dir.path().display());
    let s = spec(&target, "complete contents\n");
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(write_script(&[&s]).script)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"compl").unwrap();
    drop(child.stdin.take());
    assert!(!child.wait().unwrap().success());
    assert!(walk(dir.path()).is_empty(), "{:?}", walk(dir.path()));
}

/// Every byte of the contents but no trailer (the sender stopped at the end of a file it
/// found changed): the write fails and leaves nothing; the trailer alone completes it.
#[test]
fn contents_without_the_trailer_are_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let target = format!("{}/kubelet.conf", dir.path().display());
    let s = spec(&target, "complete contents\n");
    let run = |stdin: &[u8]| {
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(write_script(&[&s]).script)
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), stdin).unwrap();
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    };
    let refused = run(b"complete contents\n");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("did not arrive whole"), "{refused:?}");
    assert!(walk(dir.path()).is_empty(), "{:?}", walk(dir.path()));
    assert!(!run(b"complete contents\nnot the trailer\n").status.success());
    assert!(walk(dir.path()).is_empty(), "{:?}", walk(dir.path()));
    assert!(run(format!("complete contents\n{SENT_WHOLE}\n").as_bytes()).status.success());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "complete contents\n");
}

/// A large file is written with its quick-check modification time; probed, it is taken
/// by size and time without hashing, and hashed again once anything gave it another time.
#[test]
fn large_files_are_quick_checked_by_size_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let owner = String::from_utf8(std::process::Command::new("sh").arg("-c").arg("echo $(id -un):$(id -gn)").output().unwrap().stdout).unwrap().trim().to_string();
    let big = FileSpec::new(format!("{}/bin/big", dir.path().display()), 0o755, owner, vec![7u8; QUICK_CHECK_BYTES as usize]);
    let quick = big.quick().expect("large enough");
    assert!(run_write(&[&big]).success());
    let mtime = std::fs::metadata(&big.path).unwrap().modified().unwrap().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(mtime, quick.mtime);
    let probe = |q: Option<&Quick>| {
        let out = std::process::Command::new("sh").arg("-c").arg(probe_script_with(&[(&big.path, q)])).output().unwrap();
        parse_probe(&String::from_utf8(out.stdout).unwrap(), std::slice::from_ref(&big)).unwrap()
    };
    assert_eq!(probe(Some(&quick)), [FileState::Same]);
    // Same size, same time, other bytes: trusted (the quick check is size and time only).
    std::fs::write(&big.path, vec![8u8; QUICK_CHECK_BYTES as usize]).unwrap();
    let touch = |when: &str| assert!(std::process::Command::new("touch").args(["-m", "-d", when, &big.path]).status().unwrap().success());
    touch(&format!("@{}", quick.mtime));
    assert_eq!(probe(Some(&quick)), [FileState::Same]);
    // A write by anything else gives it a new time: hashed, and found to differ.
    touch("now");
    assert_eq!(probe(Some(&quick)), [FileState::Content]);
    assert_eq!(probe(None), [FileState::Content]);
    assert!(FileSpec::root("/small", 0o644, &b"x"[..]).quick().is_none());
}

/// Runs the write script of `specs` with the local `sh`, its stdin as `write_then` sends it.
fn run_write(specs: &[&FileSpec]) -> std::process::ExitStatus {
    run_write_in(specs, &std::env::temp_dir())
}

/// `run_write` in the working directory `cwd`.
fn run_write_in(specs: &[&FileSpec], cwd: &std::path::Path) -> std::process::ExitStatus {
    let written = write_script(specs);
    let mut stdin: Vec<u8> = specs.iter().flat_map(|s| s.contents.load().unwrap().to_vec()).collect();
    stdin.extend_from_slice(written.trailer.as_bytes());
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(&written.script)
        .current_dir(cwd)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &stdin).unwrap();
    child.wait().unwrap()
}

/// Regression: temp paths were written unquoted into a here-document, so a file name with
/// a newline and the delimiter ended it and ran the next line as root. Whatever a name holds,
/// the script text now only has it shell-quoted, `sh -n` accepts it, and running it in a
/// sandbox (a temp dir, the local `sh`) writes the files under their exact names and runs
/// nothing else.
#[test]
fn hostile_file_names_never_run_as_script() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    let owner = String::from_utf8(std::process::Command::new("sh").arg("-c").arg("echo $(id -un):$(id -gn)").output().unwrap().stdout).unwrap().trim().to_string();
    let file = |name: &str| FileSpec::new(format!("{root}/{name}"), 0o600, owner.clone(), &b"same contents\n"[..]);
    let breakout = [file("x\nV6DEPLOY_SUMS\ntouch pwned\n#"), file("x")];
    let tame = [file("$(touch pwned)"), file("`touch pwned`"), file("x'; touch pwned; '"), file("-rf"), file("[ab]*?"), file("sp ace;|&<>"), file("ünï")];
    let all: Vec<&FileSpec> = breakout.iter().chain(&tame).collect();
    let written = write_script(&all);
    assert!(!written.script.contains("<<"), "no here-document: {}", written.script);
    let syntax = std::process::Command::new("sh").arg("-n").arg("-c").arg(&written.script).output().unwrap();
    assert!(syntax.status.success(), "sh -n: {}", String::from_utf8_lossy(&syntax.stderr));
    // The callers refuse the name with newlines (`has_control_characters`); the script
    // must still be inert with it: the files are written under their names, nothing runs.
    assert!(run_write_in(&all, dir.path()).success());
    assert!(!dir.path().join("pwned").exists(), "a file name ran as a command");
    assert_eq!(std::fs::read(&breakout[0].path).unwrap(), b"same contents\n");
    assert_eq!(walk(dir.path()).len(), all.len(), "{:?}", walk(dir.path()));
    for spec in &all {
        std::fs::remove_file(&spec.path).unwrap();
    }
    let tame: Vec<&FileSpec> = tame.iter().collect();
    assert!(run_write_in(&tame, dir.path()).success());
    assert!(!dir.path().join("pwned").exists(), "a file name ran as a command");
    for spec in &tame {
        assert_eq!(std::fs::read(&spec.path).unwrap(), &*spec.contents.load().unwrap(), "{}", spec.path);
    }
    assert_eq!(walk(dir.path()).len(), tame.len());
}

#[test]
fn control_characters_are_found() {
    for bad in ["a\nb", "a\0b", "a\rb", "a\x1bb", "a\x7fb", "\t"] {
        assert!(has_control_characters(bad), "{bad:?}");
    }
    for good in ["kernel-4.19.113-300.el7.x86_64.rpm", "sp ace", "ünïcode", "$(x)"] {
        assert!(!has_control_characters(good), "{good:?}");
    }
}

/// Regression: paths with a control character reached the write script; `write` refuses
/// them before anything runs on the host.
#[test]
fn write_refuses_a_path_with_a_control_character() {
    let fake = crate::transport::fake::FakeTransport::new("2001:db8::1");
    let spec = FileSpec::root("/etc/a\nb", 0o644, &b"x"[..]);
    let error = futures::executor::block_on(write(&fake, &[&spec])).unwrap_err();
    assert!(matches!(error, TransportError::UnsafeName { .. }), "{error}");
    assert!(fake.log().is_empty(), "{:?}", fake.log());
}

/// Every file and directory under `dir`.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.push(format!("{}/", path.display()));
            found.extend(walk(&path));
        } else {
            found.push(path.display().to_string());
        }
    }
    found
}

/// Names with quotes, backslashes and spaces are probed (hashed, and quick-checked) as any
/// other: they reach `stat`, `sha256sum` and the awk table intact.
#[test]
fn odd_names_are_probed_and_quick_checked() {
    let dir = tempfile::tempdir().unwrap();
    let owner = String::from_utf8(std::process::Command::new("sh").arg("-c").arg("echo $(id -un):$(id -gn)").output().unwrap().stdout).unwrap().trim().to_string();
    let names = ["it's", "say \"hi\"", "back\\slash", "two  spaces"];
    let specs: Vec<FileSpec> = names.iter().map(|n| FileSpec::new(format!("{}/{n}", dir.path().display()), 0o644, owner.clone(), n.as_bytes())).collect();
    for spec in &specs {
        std::fs::write(&spec.path, spec.contents.load().unwrap()).unwrap();
        std::fs::set_permissions(&spec.path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    }
    let missing = FileSpec::new(format!("{}/it's not there", dir.path().display()), 0o644, owner.clone(), &b""[..]);
    let all: Vec<FileSpec> = specs.iter().cloned().chain([missing]).collect();
    let paths: Vec<&str> = all.iter().map(|s| s.path.as_str()).collect();
    let out = std::process::Command::new("sh").arg("-c").arg(probe_script(&paths)).output().unwrap();
    let states = parse_probe(&String::from_utf8(out.stdout).unwrap(), &all).unwrap();
    assert_eq!(states, [FileState::Same, FileState::Same, FileState::Same, FileState::Same, FileState::Missing]);
    // Quick-checked by a (made-up) size and time that match: its line comes from the table.
    let meta = std::fs::metadata(&specs[0].path).unwrap();
    let quick = Quick { size: meta.len(), mtime: std::os::unix::fs::MetadataExt::mtime(&meta) as u64, sha256: "f".repeat(64) };
    let out = std::process::Command::new("sh").arg("-c").arg(probe_script_with(&[(&specs[0].path, Some(&quick)), (&specs[1].path, None)])).output().unwrap();
    let found = parse_probed(&String::from_utf8(out.stdout).unwrap(), &[&specs[0].path, &specs[1].path]).unwrap();
    assert_eq!(found[0].as_ref().unwrap().sha256, "f".repeat(64));
    assert_eq!(found[1].as_ref().unwrap().sha256, specs[1].sha256());
}
