//! Why `v6deploy lint` has a `go-redis` rule, shown for real: Debian 12's redis-server (7.0)
//! as a three-master Redis Cluster on three lab machines, over IPv6 only. A key sent to a node
//! that does not own its slot gets `-MOVED <slot> <address>:<port>` with the IPv6 address
//! unbracketed (`MOVED 14443 2001:db8:0:N::103:6379`). Split at the first colon (or parsed as a
//! socket address, which is what Go's `net.Dial` does with it: "too many colons in address")
//! that text gives no host and port; read as an address it is a valid but wrong IPv6 address
//! (its last group is the port); split at the last colon (what go-redis >= 9.5.2 does) it gives
//! the owner's address and port, and the SET and GET sent there succeed.
//!
//! The packages come from Debian's archive through this host's apt (`tests/redis/setup.sh
//! download`, cached in /var/cache/v6deploy/lab/debian-debs), are copied to each machine with
//! scp and installed there with dpkg; redis-server runs under the machine's systemd
//! (`redis-node`), bound to the machine's lab address and `::1`. The cluster is created with
//! Debian's `redis-cli --cluster create`, run on the first machine. This process speaks RESP
//! itself, over TCP, to lab addresses only.
//!
//! Like tests/lab.rs it is `#[ignore]`d and runs only as root (`scripts/test.sh`, or
//! `cargo test --test redis_moved -- --include-ignored`); its lab `tredis` is removed by a guard.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod support;
use support::*;

const PORT: u16 = 6379;
/// The slot of the field report's `MOVED 14443 2002:db8:0:1::103:8533`.
const SLOT: u16 = 14443;

/// A RESP reply.
#[derive(Debug, Clone, PartialEq)]
enum Reply {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

/// A Redis connection that speaks RESP by hand (no client library: the point is to see the
/// bytes a client gets).
struct Redis {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Redis {
    /// Connects to `address`, which must be a lab address: this test sends nothing elsewhere.
    fn connect(lab_addresses: &[Ipv6Addr], address: Ipv6Addr, port: u16) -> io::Result<Redis> {
        assert!(lab_addresses.contains(&address), "{address} is not a lab machine's address ({lab_addresses:?}): not connecting");
        let stream = TcpStream::connect_timeout(&SocketAddr::V6(SocketAddrV6::new(address, port, 0, 0)), Duration::from_secs(3))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_write_timeout(Some(Duration::from_secs(10)))?;
        Ok(Redis { reader: BufReader::new(stream.try_clone()?), writer: stream })
    }

    /// Sends a command (an array of bulk strings) and reads its reply.
    fn call(&mut self, args: &[&str]) -> io::Result<Reply> {
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        self.writer.write_all(request.as_bytes())?;
        read_reply(&mut self.reader)
    }

    /// A command whose reply is a bulk string, as text.
    fn call_text(&mut self, args: &[&str]) -> Result<String, String> {
        match self.call(args) {
            Ok(Reply::Bulk(Some(bytes))) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
            other => Err(format!("{args:?}: {other:?}")),
        }
    }
}

fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let Some(line) = line.strip_suffix("\r\n") else {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("no CRLF at the end of {line:?}")));
    };
    Ok(line.to_string())
}

fn read_reply(reader: &mut impl BufRead) -> io::Result<Reply> {
    let line = read_line(reader)?;
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {line:?}"));
    let (kind, rest) = line.split_at_checked(1).ok_or_else(|| bad("empty reply line"))?;
    let length = || rest.parse::<i64>().map_err(|_| bad("bad length"));
    Ok(match kind {
        "+" => Reply::Simple(rest.to_string()),
        "-" => Reply::Error(rest.to_string()),
        ":" => Reply::Integer(length()?),
        "$" => match length()? {
            -1 => Reply::Bulk(None),
            n => {
                let mut bytes = vec![0; usize::try_from(n).map_err(|_| bad("bad length"))? + 2];
                reader.read_exact(&mut bytes)?;
                bytes.truncate(bytes.len() - 2);
                Reply::Bulk(Some(bytes))
            }
        },
        "*" => match length()? {
            -1 => Reply::Array(None),
            n => Reply::Array(Some((0..n).map(|_| read_reply(reader)).collect::<io::Result<_>>()?)),
        },
        _ => return Err(bad("unknown reply type")),
    })
}

/// CRC16-XMODEM, which Redis Cluster takes modulo 16384 as a key's slot (no `{hash tag}`).
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

fn slot(key: &str) -> u16 {
    assert!(!key.contains('{'), "hash tags are not computed here: {key}");
    crc16(key.as_bytes()) % 16384
}

/// Polls `attempt` every 200 ms until it gives a value, or panics after `timeout` with its
/// last error (support::wait_for, keeping why it was not done yet).
fn poll<T>(what: &str, timeout: Duration, mut attempt: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match attempt() {
            Ok(value) => return value,
            Err(why) if Instant::now() >= deadline => panic!("timed out after {timeout:?} waiting for {what}: {why}"),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Copies `files` into `dir` on a lab machine with the system scp, the lab key and strict
/// known_hosts.
fn scp_to(lab: &TestLab, address: Ipv6Addr, files: &[String], dir: &str) {
    let lab_files = lab.files();
    let output = Command::new("scp")
        .args(["-q", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", lab_files.join("known_hosts").display()))
        .arg("-i")
        .arg(lab_files.join("id_ed25519"))
        .args(files)
        .arg(format!("root@[{address}]:{dir}/"))
        .output()
        .unwrap();
    assert!(output.status.success(), "scp {files:?} to {address}: {}", text(&output));
}

/// Slot ranges of each node id in `CLUSTER NODES` (`<id> <addr> <flags> ... <slot ranges>`).
fn owner_id(cluster_nodes: &str, wanted: u16) -> Option<String> {
    cluster_nodes.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let owns = fields.iter().skip(8).any(|range| {
            let (first, last) = range.split_once('-').unwrap_or((range, range));
            matches!((first.parse::<u16>(), last.parse::<u16>()), (Ok(a), Ok(b)) if a <= wanted && wanted <= b)
        });
        owns.then(|| fields[0].to_string())
    })
}

#[test]
fn key_slots_are_crc16_xmodem_as_the_cluster_specification_says() {
    // The specification's check value (CRC16 of "123456789" is 0x31C3), and every slot below
    // 16384.
    assert_eq!(crc16(b"123456789"), 0x31c3);
    assert_eq!(slot("123456789"), 12739);
    assert!((0..1000).map(|n| slot(&format!("k{n}"))).all(|s| s < 16384));
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn redis_cluster_moved_carries_an_unbracketed_ipv6_address_split_at_the_last_colon() {
    // Plain machines: nothing of the lab's bundle is installed (no Kubernetes, no etcd).
    let lab = TestLab::up_flavor("tredis", 3, "debian");
    let addresses: Vec<Ipv6Addr> = lab.machines().iter().map(|m| m.address).collect();
    assert_eq!(addresses.len(), 3);

    // Debian's packages, downloaded once on this host.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/redis/setup.sh");
    let download = Command::new("sh").arg(&script).arg("download").output().unwrap();
    assert!(download.status.success(), "setup.sh download: {}", text(&download));
    let mut files: Vec<String> = String::from_utf8_lossy(&download.stdout).lines().map(str::to_string).collect();
    assert_eq!(files.len(), 4, "redis-server, redis-tools, libatomic1, liblzf1: {files:?}");
    assert!(files.iter().all(|f| f.ends_with(".deb") && Path::new(f).is_file()), "{files:?}");
    files.push(script.display().to_string());

    // On every machine at once: copy, dpkg -i, start redis-node under the machine's systemd.
    std::thread::scope(|scope| {
        for &address in &addresses {
            let (lab, files) = (&lab, &files);
            scope.spawn(move || {
                lab.ssh_ok(address, "mkdir -p /root/redis");
                scp_to(lab, address, files, "/root/redis");
                lab.ssh_ok(address, &format!("sh /root/redis/setup.sh node {address}"));
            });
        }
    });
    for &address in &addresses {
        let out = lab.ssh_ok(address, "redis-server --version; systemctl is-active redis-node; systemctl is-active redis-server || true");
        assert!(out.starts_with("Redis server v=7.0."), "{address}: {out}");
        assert!(out.contains("\nactive\ninactive\n"), "{address}: redis-node runs, the package's own unit does not: {out}");
        poll(&format!("redis-server on [{address}]:{PORT}"), Duration::from_secs(30), || {
            let reply = Redis::connect(&addresses, address, PORT).and_then(|mut r| r.call(&["PING"])).map_err(|e| e.to_string())?;
            if reply == Reply::Simple("PONG".into()) { Ok(()) } else { Err(format!("{reply:?}")) }
        });
    }

    // The cluster, as an operator makes it: redis-cli itself wants the nodes unbracketed.
    let nodes: Vec<String> = addresses.iter().map(|a| format!("{a}:{PORT}")).collect();
    let created = lab.ssh_ok(addresses[0], &format!("redis-cli --cluster create {} --cluster-yes 2>&1", nodes.join(" ")));
    assert!(created.contains("[OK] All 16384 slots covered."), "{created}");
    for &address in &addresses {
        poll(&format!("cluster_state:ok on [{address}]:{PORT}"), Duration::from_secs(60), || {
            let info = Redis::connect(&addresses, address, PORT).map_err(|e| e.to_string())?.call_text(&["CLUSTER", "INFO"])?;
            if info.lines().any(|l| l.trim_end() == "cluster_state:ok") && info.contains("cluster_known_nodes:3") { Ok(()) } else { Err(info) }
        });
    }

    // A key of the field report's slot, and which machine owns it: by node id, so that no
    // address text is read to decide it.
    let key = (0..).map(|n| format!("field-report:{n}")).find(|k| slot(k) == SLOT).unwrap();
    let mut first = Redis::connect(&addresses, addresses[0], PORT).unwrap();
    assert_eq!(first.call(&["CLUSTER", "KEYSLOT", &key]).unwrap(), Reply::Integer(i64::from(SLOT)), "{key}");
    let cluster_nodes = first.call_text(&["CLUSTER", "NODES"]).unwrap();
    let owner = owner_id(&cluster_nodes, SLOT).unwrap_or_else(|| panic!("nobody owns slot {SLOT}: {cluster_nodes}"));
    let ids: Vec<String> = addresses.iter().map(|&a| Redis::connect(&addresses, a, PORT).unwrap().call_text(&["CLUSTER", "MYID"]).unwrap()).collect();
    let owner_index = ids.iter().position(|id| *id == owner).unwrap_or_else(|| panic!("{owner} is none of {ids:?}"));
    let owner_address = addresses[owner_index];
    let asked_index = (0..addresses.len()).find(|&i| i != owner_index).unwrap();
    let mut asked = Redis::connect(&addresses, addresses[asked_index], PORT).unwrap();

    // The reply, as the server sends it: the address is not bracketed.
    let reply = asked.call(&["SET", &key, "moved-over-ipv6"]).unwrap();
    let Reply::Error(moved) = reply else { panic!("SET {key} on {}: not MOVED: {reply:?}", addresses[asked_index]) };
    eprintln!("redis_moved: [{}]:{PORT} answered SET {key}: -{moved}", addresses[asked_index]);
    assert_eq!(moved, format!("MOVED {SLOT} {owner_address}:{PORT}"));
    assert!(!moved.contains('['), "{moved}");
    let target = moved.rsplit_once(' ').unwrap().1;

    // Read wrongly: as a socket address (Go's net.Dial: "too many colons in address"), split at
    // the first colon (a host of `2001` and a port of `db8:...`), or as an address (valid: the
    // port reads as its last group, so it names another host).
    assert!(target.parse::<SocketAddr>().is_err(), "{target}");
    let (host, port) = target.split_once(':').unwrap();
    assert_eq!(host, "2001", "{target}");
    assert!(host.parse::<IpAddr>().is_err() && port.parse::<u16>().is_err(), "first colon: host {host:?}, port {port:?}");
    let whole: Ipv6Addr = target.parse().unwrap();
    assert_ne!(whole, owner_address);
    assert_eq!(whole.segments()[7], 0x6379, "{whole}");

    // Read rightly: split at the last colon, then bracket.
    let (host, port) = target.rsplit_once(':').unwrap();
    let (host, port): (Ipv6Addr, u16) = (host.parse().unwrap(), port.parse().unwrap());
    assert_eq!((host, port), (owner_address, PORT));
    eprintln!("redis_moved: split at the last colon: [{host}]:{port}");
    let mut owner_connection = Redis::connect(&addresses, host, port).unwrap();
    assert_eq!(owner_connection.call(&["SET", &key, "moved-over-ipv6"]).unwrap(), Reply::Simple("OK".into()));
    assert_eq!(owner_connection.call(&["GET", &key]).unwrap(), Reply::Bulk(Some(b"moved-over-ipv6".to_vec())));
    // And the node that was asked first still sends the client on, now for a key that exists.
    assert_eq!(asked.call(&["GET", &key]).unwrap(), Reply::Error(moved.clone()));
}
