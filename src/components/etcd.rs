//! etcd: a member on every etcd host, TLS on `https://[addr]:2379` (clients) and `:2380`
//! (peers). All members start together (quorum); a running member restarts one host at a
//! time; a host added to a running cluster joins through `etcdctl member add`. Health is
//! `etcdctl endpoint health` against the member with the healthcheck client certificate.

use super::{Leaves, Bootstrap, Component, Health, HostFile, Join, Kind, Restart, Service, Stage, Start, binary_path};
use std::net::Ipv6Addr;

use crate::inventory::{HostSpec, Role};
use crate::net::url;
use crate::pki::{HostPki, PkiUse};
use crate::shell::command;

/// The client port.
pub const CLIENT_PORT: u16 = 2379;
/// The peer port.
pub const PEER_PORT: u16 = 2380;
/// Its data dir (`templates/etcd.conf.yml.j2`).
pub const DATA_DIR: &str = "/var/lib/etcd";
/// Where `node remove` moves a removed member's data dir: `/var/lib/etcd.removed-<UTC stamp>`.
pub const REMOVED_DATA_PREFIX: &str = "/var/lib/etcd.removed-";

/// An `etcdctl` command line against `endpoints` (TLS with the healthcheck client
/// certificate), giving up after `timeout_seconds`.
pub fn etcdctl(endpoints: &[Ipv6Addr], timeout_seconds: u32, args: &[&str]) -> String {
    let endpoints: Vec<String> = endpoints.iter().map(|a| url("https", *a, CLIENT_PORT)).collect();
    let client = HostPki::EtcdHealthcheckClient;
    let mut words = vec![
        binary_path("etcdctl"),
        format!("--endpoints={}", endpoints.join(",")),
        format!("--cacert={}", HostPki::EtcdCa.cert()),
        format!("--cert={}", client.cert()),
        format!("--key={}", client.key()),
        format!("--command-timeout={timeout_seconds}s"),
    ];
    words.extend(args.iter().map(|a| a.to_string()));
    format!("ETCDCTL_API=3 {}", command(&words))
}

/// `etcdctl endpoint health` against this member.
pub fn health_command(host: &HostSpec) -> String {
    etcdctl(&[host.address], 3, &["endpoint", "health"])
}

pub const ETCD: Component = Component {
    name: "etcd",
    roles: &[Role::Etcd],
    binaries: &["etcd", "etcdctl"],
    bundle_dirs: &[],
    files: &[
        HostFile::config("/etc/etcd/etcd.conf.yml", "etcd.conf.yml.j2"),
        // Read only while the data dir is empty: no restart.
        HostFile::config("/etc/etcd/etcd-bootstrap.conf.yml", "etcd-bootstrap.conf.yml.j2").without_restart(),
        HostFile::config("/etc/systemd/system/etcd.service", "etcd.service.j2"),
    ],
    certificates: &[
        (HostPki::EtcdCa, PkiUse::Reads),
        (HostPki::EtcdServer, PkiUse::Reads),
        (HostPki::EtcdPeer, PkiUse::Reads),
        (HostPki::EtcdHealthcheckClient, PkiUse::HealthCheck),
    ],
    ports: &[CLIENT_PORT, PEER_PORT],
    // Its data dir is the cluster's state: kept unless `reset --purge-data`, with the data
    // dirs `etcd restore` and `node remove` kept beside it (each holds every Secret).
    leaves: Leaves {
        state: &["/etc/etcd", "/var/lib/etcd.restore", "/var/lib/v6deploy/etcd-snapshot.db", "/var/lib/v6deploy/etcd-restore.db"],
        data: &[DATA_DIR, "/var/lib/etcd.before-restore-*", "/var/lib/etcd.removed-*"],
        ..Leaves::NOTHING
    },
    kind: Kind::Service(Service {
        start: Start::Together,
        restart: Restart::Rolling,
        bootstrap: Some(Bootstrap { file: "/etc/etcd/etcd-bootstrap.conf.yml", marker: "/var/lib/etcd/member" }),
        health: Health::Script { needs: &["etcdctl"], script: |_, host| health_command(host), shows: "etcdctl endpoint health over TLS" },
        join: Join::MemberAdd,
        ..Service::new(Stage::Etcd, "etcd")
    }),
};
