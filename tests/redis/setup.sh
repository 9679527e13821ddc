#!/bin/sh
# Debian 12's redis-server as a Redis Cluster node on a lab machine, for tests/redis_moved.rs.
#
#   setup.sh download            on this host (root): prints the paths of the .deb files a
#                                lab machine needs, downloaded once with `apt-get download`
#                                into the lab's package cache (the machines have no network).
#   setup.sh node ADDRESS        on a lab machine, in the directory that holds those .deb
#                                files: installs them with dpkg, writes
#                                /etc/redis/cluster.conf (cluster mode, bound to ADDRESS and
#                                ::1) and starts it under the machine's systemd as redis-node.
#
# The lab's base image has every dependency of redis-server and redis-tools but libatomic1 and
# liblzf1 (`awk` over its /var/lib/dpkg/status); those come along.
set -eu

CACHE=/var/cache/v6deploy/lab/debian-debs
PACKAGES="redis-server redis-tools libatomic1 liblzf1"

download() {
    mkdir -p "$CACHE"
    cd "$CACHE"
    for package in $PACKAGES; do
        if ! ls "${package}"_*.deb >/dev/null 2>&1; then
            echo "downloading Debian's $package into $CACHE" >&2
            apt-get download -q "$package" >&2 || { apt-get update -qq >&2 && apt-get download -q "$package" >&2; }
        fi
        # The newest cached one, as src/lab/debs.rs picks it.
        ls "$CACHE/${package}"_*.deb | sort | tail -n 1
    done
}

node() {
    address=$1
    here=$(cd "$(dirname "$0")" && pwd)
    # The package's own redis-server.service must not start (it would take ::1 port 6379):
    # invoke-rc.d and deb-systemd-invoke ask policy-rc.d, 101 means "not now".
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    status=0
    dpkg -i "$here"/*.deb >"$here/dpkg.log" 2>&1 || status=$?
    rm -f /usr/sbin/policy-rc.d
    if [ "$status" -ne 0 ]; then
        cat "$here/dpkg.log" >&2
        exit "$status"
    fi
    systemctl disable -q redis-server.service
    cat >/etc/redis/cluster.conf <<EOF
# tests/redis_moved.rs: a Redis Cluster node on the lab address (and ::1), nothing on IPv4.
bind $address ::1
port 6379
# Redis 7 refuses non-loopback clients without a password even with bind set; the lab is closed.
protected-mode no
cluster-enabled yes
cluster-config-file nodes-6379.conf
cluster-node-timeout 5000
dir /var/lib/redis
save ""
appendonly no
daemonize no
logfile ""
EOF
    chmod 644 /etc/redis/cluster.conf
    systemd-run -q --unit redis-node -p User=redis -p Group=redis /usr/bin/redis-server /etc/redis/cluster.conf
}

case "${1:-}" in
    download) download ;;
    node) node "$2" ;;
    *) echo "usage: $0 download | node ADDRESS" >&2; exit 2 ;;
esac
