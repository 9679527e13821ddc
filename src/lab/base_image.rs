//! The Debian base image every machine's overlay sits on: built once with debootstrap,
//! trimmed for a small footprint, cached. It is built in a temporary directory and renamed
//! into place, so a crash never leaves a half image where a finished one is expected.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::LabError;
use super::command::Runner;
use super::flavor::Flavor;
use super::mounts;

/// Cache of base images and of the packages debootstrap downloads.
pub const CACHE_ROOT: &str = "/var/cache/v6deploy/lab";
/// The Debian release of the machines.
pub const SUITE: &str = "bookworm";
/// Where debootstrap fetches packages unless `--mirror` says otherwise.
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
/// Bumped whenever `trim` or the packages change, so that an older cached image is not reused.
const VERSION: u32 = 4;
/// Written last into a finished image.
const MARKER: &str = "etc/v6deploy-lab-base";

/// Packages beyond minbase: systemd to boot, sshd to be reached, and the tools a Kubernetes
/// install expects on a node (the lab has no network to fetch them later), and the shared
/// libraries of the bundle's `haproxy` (Debian 12's, linked against Lua and opentracing) that
/// a minimal Debian lacks, as a host that runs Debian's haproxy has them; `dig` to ask the
/// cluster's DNS from a node, as an operator would.
const PACKAGES: &[&str] = &[
    "systemd", "systemd-sysv", "dbus", "openssh-server", "iproute2", "iputils-ping", "procps", "kmod", "iptables", "conntrack",
    "socat", "ethtool", "ca-certificates", "curl", "liblua5.3-0", "libopentracing-c-wrapper0", "bind9-dnsutils",
];

/// Units a lab machine does not need: consoles, timers, and networkd (addresses are set from
/// outside the namespace, so that they survive a reboot of the machine).
const MASKED_UNITS: &[&str] = &[
    "getty@.service", "console-getty.service", "serial-getty@.service", "systemd-networkd.service", "systemd-networkd.socket",
    "systemd-networkd-wait-online.service", "systemd-timesyncd.service", "systemd-pstore.service", "e2scrub_reap.service",
    "apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer", "e2scrub_all.timer", "fstrim.timer",
];

/// sshd: only the per-machine ed25519 host key, only key logins.
const SSHD_CONFIG: &str = "\
# v6deploy lab: each machine gets its own host key; root logs in with the lab key only.
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
";

/// journald: in memory, small.
const JOURNALD_CONFIG: &str = "\
# v6deploy lab: keep the journal in memory and small.
[Journal]
Storage=volatile
RuntimeMaxUse=16M
";

const RESOLV_CONF: &str = "# v6deploy lab: no DNS server; machines are reached by address.\n";

/// The cached image of a flavor for this version of the lab (`base-bookworm-v3`; a flavor
/// with extra packages has its own, e.g. `base-bookworm-rpm-v3`).
pub fn path(flavor: Flavor) -> PathBuf {
    Path::new(CACHE_ROOT).join(format!("base-{SUITE}{}-v{VERSION}", flavor.image_suffix()))
}

/// The cached image, building it first when there is none.
pub fn ensure(runner: &Runner, mirror: &str, flavor: Flavor) -> Result<PathBuf, LabError> {
    let image = path(flavor);
    let packages: Vec<&str> = PACKAGES.iter().chain(flavor.extra_packages()).copied().collect();
    if image.join(MARKER).exists() {
        return Ok(image);
    }
    let started = Instant::now();
    runner.note(format!("building the {SUITE} base image in {} (once; about a minute)", image.display()));
    let building = image.with_extension("building");
    remove_partial(runner, &building)?;
    let debs = Path::new(CACHE_ROOT).join("debs");
    fs::create_dir_all(&debs).map_err(LabError::io("create", &debs))?;
    runner.run(
        "debootstrap",
        [
            "--variant=minbase".to_string(),
            format!("--cache-dir={}", debs.display()),
            format!("--include={}", packages.join(",")),
            SUITE.to_string(),
            building.display().to_string(),
            mirror.to_string(),
        ],
    )?;
    trim(&building)?;
    write(&building.join(MARKER), &format!("v6deploy lab base image v{VERSION} ({SUITE})\n"))?;
    fs::rename(&building, &image).map_err(LabError::io("rename into", &image))?;
    runner.note(format!("base image ready in {:.0} s", started.elapsed().as_secs_f64()));
    Ok(image)
}

/// Removes what an interrupted build left, unmounting what debootstrap had mounted in it.
fn remove_partial(runner: &Runner, building: &Path) -> Result<(), LabError> {
    if !building.exists() {
        return Ok(());
    }
    runner.note(format!("removing an unfinished base image {}", building.display()));
    for point in mounts::below(building) {
        runner.run("umount", [&point])?;
    }
    fs::remove_dir_all(building).map_err(LabError::io("remove", building))
}

/// Trims a fresh debootstrap tree into the lab's base.
fn trim(root: &Path) -> Result<(), LabError> {
    // Each machine gets its own host keys, hostname and machine id.
    let ssh = root.join("etc/ssh");
    for entry in fs::read_dir(&ssh).map_err(LabError::io("read", &ssh))?.flatten() {
        if entry.file_name().to_string_lossy().starts_with("ssh_host_") {
            remove_file(&entry.path())?;
        }
    }
    remove_file(&root.join("etc/hostname"))?;
    write(&root.join("etc/machine-id"), "")?;
    let units = root.join("etc/systemd/system");
    for unit in MASKED_UNITS {
        let link = units.join(unit);
        remove_file(&link)?;
        symlink("/dev/null", &link).map_err(LabError::io("mask unit", &link))?;
    }
    write(&root.join("etc/ssh/sshd_config.d/v6lab.conf"), SSHD_CONFIG)?;
    write(&root.join("etc/systemd/journald.conf.d/v6lab.conf"), JOURNALD_CONFIG)?;
    remove_file(&root.join("etc/resolv.conf"))?;
    write(&root.join("etc/resolv.conf"), RESOLV_CONF)?;
    Ok(())
}

/// Writes `text` to `path`, creating its directory.
pub fn write(path: &Path, text: &str) -> Result<(), LabError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(LabError::io("create", dir))?;
    }
    fs::write(path, text).map_err(LabError::io("write", path))
}

fn remove_file(path: &Path) -> Result<(), LabError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(LabError::io("remove", path)(e)),
        _ => Ok(()),
    }
}
