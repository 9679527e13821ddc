#!/bin/sh
# Builds the lab's network-addon binaries from upstream source archives (each a `git archive`
# of the release tag, checked against the sha256 sums below, from lab-sources/README.md) with
# Go 1.19 from Debian 12 and Go 1.24 from Debian 13, offline once the Go packages are fetched.
# Run by `v6deploy lab up`, which caches the result; never edits the machine's apt
# configuration: a private sources list, lists and archives live under CACHE.
#
#   build.sh CACHE MIRROR SOURCES
#
# SOURCES holds flannel-0.20.2.tar.gz, cni-plugins-0.9.1.tar.gz, kubernetes-dns-1.26.2.tar.gz
# and coredns-1.11.3.tar.gz. Leaves, stripped and static:
#   CACHE/bin/flanneld    flannel v0.20.2 (Go 1.19, cgo linked statically for the udp backend)
#   CACHE/bin/flannel     the flannel CNI plugin from containernetworking/plugins v0.9.1
#   CACHE/bin/node-cache  NodeLocal DNSCache from kubernetes/dns 1.26.2
#   CACHE/bin/coredns     CoreDNS 1.11.3 with the kubernetes plugin, assembled in a copy of the
#                         kubernetes/dns tree (its vendor/ holds CoreDNS's core, most plugins and
#                         client-go; the plugins it lacks are added from the CoreDNS archive),
#                         watching discovery.k8s.io/v1beta1 EndpointSlices (Kubernetes 1.20)
# Builds only the binaries that are missing, each to a temporary name renamed into place once
# it runs, so a rerun after a failure or an interruption builds only what is missing.
# Prints `== step` lines for progress; the go tools' output goes to stdout.
set -eu
if [ $# -ne 3 ]; then
  echo "usage: build.sh CACHE MIRROR SOURCES" >&2
  exit 2
fi
cache=$1 mirror=$2 sources=$3

missing=
for b in flanneld flannel node-cache coredns; do
  [ -x "$cache/bin/$b" ] || missing="$missing $b"
done
if [ -z "$missing" ]; then
  echo "== network addons already built in $cache/bin"
  exit 0
fi
needs() {
  case "$missing " in *" $1 "*) return 0 ;; esac
  return 1
}

# The archives the missing binaries need, checked before anything is fetched or unpacked.
archives=
needs flanneld && archives="$archives flannel-0.20.2"
needs flannel && archives="$archives cni-plugins-0.9.1"
{ needs node-cache || needs coredns; } && archives="$archives kubernetes-dns-1.26.2"
needs coredns && archives="$archives coredns-1.11.3"
sha256_of() {
  case $1 in
    flannel-0.20.2) echo a61a07fa7eb874d911a4f5029647797007977a50409986aca6644a1b46c4ab3b ;;
    cni-plugins-0.9.1) echo 6b5529de47f667e7965ee1e96845052761ab9c9319ebc7c24c401aabac1b4cb3 ;;
    kubernetes-dns-1.26.2) echo 96cf008bc2f9c2f7bdd8dd8d241d3740d474e243d855e6198cb61e7a7fc8f0cf ;;
    coredns-1.11.3) echo 38fc0a22c7cc475d8eb5b7bf1b82a6098650d13acbfff0d750a551cfe9d1d7a2 ;;
  esac
}
if [ ! -d "$sources" ]; then
  echo "== cannot build$missing: the sources directory $sources does not exist" >&2
  exit 1
fi
sources=$(cd "$sources" && pwd)
for name in $archives; do
  archive=$sources/$name.tar.gz
  if [ ! -f "$archive" ]; then
    echo "== cannot build$missing: $archive is missing" >&2
    exit 1
  fi
  sum=$(sha256sum "$archive" | cut -d ' ' -f 1)
  if [ "$sum" != "$(sha256_of "$name")" ]; then
    echo "== cannot build$missing: $archive has sha256 $sum, expected $(sha256_of "$name")" >&2
    exit 1
  fi
done

mkdir -p "$cache/bin"
cache=$(cd "$cache" && pwd)
bin=$cache/bin

go_versions=
needs flanneld && go_versions=1.19
{ needs flannel || needs node-cache || needs coredns; } && go_versions="$go_versions 1.24"

apt_dir=$cache/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$cache/src" "$cache/go-debs"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
cat > "$apt_dir/sources.list" <<SOURCES
deb [signed-by=$keyring] $mirror bookworm main
deb [signed-by=$keyring] $mirror trixie main
SOURCES
apt() {
  apt-get -q -o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache::Archives="$apt_dir/archives" \
    -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root "$@"
}

have_debs=yes
for pkg in golang-1.19-go golang-1.19-src golang-1.24-go golang-1.24-src; do
  ls "$cache"/go-debs/"${pkg}"_*.deb >/dev/null 2>&1 || have_debs=no
done
if [ $have_debs = no ]; then
  echo "== fetching Go 1.19 (Debian 12) and Go 1.24 (Debian 13) (private apt configuration in $apt_dir)"
  apt update >/dev/null
  (cd "$cache/go-debs" && apt download golang-1.19-go/bookworm golang-1.19-src/bookworm \
    golang-1.24-go/trixie golang-1.24-src/trixie >/dev/null)
fi

for v in $go_versions; do
  if [ ! -x "$cache/go-$v/usr/lib/go-$v/bin/go" ]; then
    echo "== unpacking Go $v"
    rm -rf "$cache/go-$v.partial" "$cache/go-$v"
    for deb in "$cache"/go-debs/golang-"$v"-go_*.deb "$cache"/go-debs/golang-"$v"-src_*.deb; do
      dpkg-deb -x "$deb" "$cache/go-$v.partial"
    done
    mv "$cache/go-$v.partial" "$cache/go-$v"
  fi
done

for name in $archives; do
  tree=$cache/src/$name
  if [ ! -f "$tree/.unpacked" ]; then
    echo "== unpacking $name"
    rm -rf "$tree" && mkdir -p "$tree"
    tar -xzf "$sources/$name.tar.gz" -C "$tree" --strip-components=1
    touch "$tree/.unpacked"
  fi
done

system_path=$PATH
export GOFLAGS=-mod=vendor GOPROXY=off GOSUMDB=off GOTOOLCHAIN=local GO111MODULE=on GOWORK=off
export GOPATH="$cache/gopath" GOCACHE="$cache/gocache" HOME="$cache"
use_go() {
  export GOROOT="$cache/go-$1/usr/lib/go-$1"
  export PATH="$GOROOT/bin:$system_path"
}
started() {
  start_time=$(date +%s)
}
took() {
  echo "   ($1 took $(($(date +%s) - start_time)) s)"
}
# A check failed: show what the binary printed and leave nothing in place.
reject() {
  echo "== $1 does not work: $2" >&2
  rm -f "$bin/.$1.new"
  exit 1
}

if needs flanneld; then
  echo "== building flanneld v0.20.2 (about 120 s)"
  started
  use_go 1.19
  rm -f "$bin/.flanneld.new"
  (cd "$cache/src/flannel-0.20.2" && CGO_ENABLED=1 go build -o "$bin/.flanneld.new" \
    -ldflags '-s -w -X github.com/flannel-io/flannel/version.Version=v0.20.2 -extldflags "-static"' . 2>&1)
  out=$("$bin/.flanneld.new" --version 2>&1) || reject flanneld "--version: $out"
  case $out in *v0.20.2*) ;; *) reject flanneld "--version printed: $out" ;; esac
  mv "$bin/.flanneld.new" "$bin/flanneld"
  echo "== built flanneld: $out"
  took flanneld
fi

if needs flannel; then
  echo "== building the flannel CNI plugin v0.9.1 (about 30 s)"
  started
  use_go 1.24
  rm -f "$bin/.flannel.new"
  (cd "$cache/src/cni-plugins-0.9.1" && CGO_ENABLED=0 go build -o "$bin/.flannel.new" \
    -ldflags '-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=v0.9.1' \
    ./plugins/meta/flannel 2>&1)
  # Without CNI_COMMAND a CNI plugin prints its "about" line and exits nonzero.
  out=$(env -u CNI_COMMAND "$bin/.flannel.new" 2>&1) || true
  case $out in *"CNI flannel plugin v0.9.1"*) ;; *) reject flannel "without CNI_COMMAND it printed: $out" ;; esac
  versions=$(CNI_COMMAND=VERSION "$bin/.flannel.new" 2>&1) || reject flannel "CNI_COMMAND=VERSION: $versions"
  case $versions in *supportedVersions*) ;; *) reject flannel "CNI_COMMAND=VERSION printed: $versions" ;; esac
  mv "$bin/.flannel.new" "$bin/flannel"
  echo "== built flannel: $out $versions"
  took flannel
fi

if needs node-cache; then
  echo "== building node-cache 1.26.2 (about 150 s)"
  started
  use_go 1.24
  rm -f "$bin/.node-cache.new"
  (cd "$cache/src/kubernetes-dns-1.26.2" && CGO_ENABLED=0 go build -o "$bin/.node-cache.new" \
    -ldflags '-s -w -X k8s.io/dns/pkg/version.VERSION=1.26.2' ./cmd/node-cache 2>&1)
  # node-cache has no version flag; -h prints its usage (and may exit nonzero).
  # It logs "Starting node-cache image: VERSION" first, and its usage names CoreDNS's version.
  out=$("$bin/.node-cache.new" -h 2>&1) || true
  case $out in *localip*) ;; *) reject node-cache "-h printed: $out" ;; esac
  image=$(echo "$out" | sed -n 's/.*Starting node-cache image: //p' | head -n 1)
  [ "$image" = 1.26.2 ] || reject node-cache "-h printed: $out"
  mv "$bin/.node-cache.new" "$bin/node-cache"
  echo "== built node-cache: node-cache $image, $(echo "$out" | grep -o 'Runs CoreDNS v[0-9.]*' | head -n 1)"
  took node-cache
fi

if needs coredns; then
  # kubernetes/dns 1.26.2 vendors CoreDNS v1.11.3 (byte-identical files) without the plugins
  # below; they are added from the CoreDNS archive into a copy of its tree, listed in
  # vendor/modules.txt under the coredns module. kubernetes/setup.go's blank imports of
  # client-go's kubeconfig auth-provider plugins are dropped: they are not vendored, and
  # in-cluster service-account auth does not need them.
  ctree=$cache/src/coredns-1.11.3-in-kubernetes-dns-1.26.2
  if [ ! -f "$ctree/.assembled" ]; then
    echo "== assembling CoreDNS 1.11.3 with the kubernetes plugin in a copy of kubernetes/dns 1.26.2"
    rm -rf "$ctree.partial" "$ctree"
    cp -a "$cache/src/kubernetes-dns-1.26.2" "$ctree.partial"
    vendored=$ctree.partial/vendor/github.com/coredns/coredns
    added=
    for p in kubernetes kubernetes/object ready transfer autopath k8s_external; do
      [ ! -e "$vendored/plugin/$p" ] || { echo "== $vendored/plugin/$p is already vendored" >&2; exit 1; }
      mkdir -p "$vendored/plugin/$p"
      for f in "$cache/src/coredns-1.11.3/plugin/$p"/*.go; do
        case $f in *_test.go) ;; *) cp "$f" "$vendored/plugin/$p/" ;; esac
      done
      added="$added github.com/coredns/coredns/plugin/$p"
    done
    setup=$vendored/plugin/kubernetes/setup.go
    if ! grep -q '_ "k8s.io/client-go/plugin/pkg/client/auth/' "$setup"; then
      echo "== $setup has no client-go auth-provider imports to drop" >&2
      exit 1
    fi
    sed -i '/_ "k8s.io\/client-go\/plugin\/pkg\/client\/auth\//d' "$setup"
    if grep -rq 'k8s.io/client-go/plugin/pkg/client/auth' "$vendored/plugin"; then
      echo "== client-go auth-provider imports remain in $vendored/plugin" >&2
      exit 1
    fi
    # The lab's Kubernetes is 1.20, which serves EndpointSlices only as discovery.k8s.io/v1beta1;
    # CoreDNS 1.11 dropped v1beta1 (coredns#6147) and would never sync (its `ready` plugin
    # waits on "kubernetes" for ever). Its two files that name discovery/v1 are pointed at
    # v1beta1 (same fields for what CoreDNS reads; the package is vendored for client-go's
    # clientset); the binary says so in its version (`-version`: ...-endpointslice-v1beta1).
    for f in kubernetes/controller.go kubernetes/object/endpoint.go; do
      grep -q 'discovery "k8s.io/api/discovery/v1"' "$vendored/plugin/$f" || { echo "== $vendored/plugin/$f does not import discovery/v1" >&2; exit 1; }
      sed -i -e 's|discovery "k8s.io/api/discovery/v1"|discovery "k8s.io/api/discovery/v1beta1"|' -e 's|\.DiscoveryV1()|.DiscoveryV1beta1()|g' "$vendored/plugin/$f"
    done
    if grep -rq 'k8s.io/api/discovery/v1"\|DiscoveryV1()' "$vendored/plugin"; then
      echo "== discovery/v1 remains in $vendored/plugin" >&2
      exit 1
    fi
    # modules.txt: "# github.com/coredns/coredns v1.11.3", "## explicit; go 1.21", its
    # packages, then the next "# module" line; the packages are kept sorted.
    modules=$ctree.partial/vendor/modules.txt
    first=$(grep -n '^# github.com/coredns/coredns v1.11.3$' "$modules" | cut -d : -f 1)
    [ -n "$first" ] || { echo "== $modules does not list github.com/coredns/coredns v1.11.3" >&2; exit 1; }
    last=$(tail -n +$((first + 2)) "$modules" | grep -n '^# ' | head -n 1 | cut -d : -f 1)
    last=$((first + last))
    {
      head -n $((first + 1)) "$modules"
      { sed -n "$((first + 2)),${last}p" "$modules"; printf '%s\n' $added; } | LC_ALL=C sort -u
      tail -n +$((last + 1)) "$modules"
    } > "$modules.new"
    mv "$modules.new" "$modules"
    # The plugins a cluster DNS Corefile uses, and the others CoreDNS's core here has.
    mkdir -p "$ctree.partial/cmd/coredns"
    {
      echo '// CoreDNS 1.11.3 with the plugins vendored here; assembled by the lab (src/lab/network_addons/build.sh).'
      echo 'package main'
      echo
      echo 'import ('
      echo '	"github.com/coredns/coredns/coremain"'
      echo
      for p in autopath bind bufsize cache debug dns64 dnstap errors forward health hosts k8s_external \
        kubernetes loadbalance log loop metadata metrics pprof ready reload rewrite template trace \
        transfer whoami; do
        [ -d "$vendored/plugin/$p" ] || { echo "== plugin $p is not in $vendored" >&2; exit 1; }
        echo "	_ \"github.com/coredns/coredns/plugin/$p\""
      done
      echo ')'
      echo
      echo 'func main() { coremain.Run() }'
    } > "$ctree.partial/cmd/coredns/main.go"
    touch "$ctree.partial/.assembled"
    mv "$ctree.partial" "$ctree"
  fi

  echo "== building CoreDNS 1.11.3 (about 120 s)"
  started
  use_go 1.24
  rm -f "$bin/.coredns.new"
  (cd "$ctree" && CGO_ENABLED=0 go build -o "$bin/.coredns.new" \
    -ldflags '-s -w -X github.com/coredns/coredns/coremain.GitCommit=a7ed346-k8s.io/dns-1.26.2-endpointslice-v1beta1' ./cmd/coredns 2>&1)
  out=$("$bin/.coredns.new" -version 2>&1) || reject coredns "-version: $out"
  case $out in CoreDNS-1.11.3*) ;; *) reject coredns "-version printed: $out" ;; esac
  plugins=$("$bin/.coredns.new" -plugins 2>&1) || reject coredns "-plugins: $plugins"
  echo "$plugins" | grep -q kubernetes || reject coredns "-plugins lacks kubernetes: $plugins"
  mv "$bin/.coredns.new" "$bin/coredns"
  echo "== built coredns: $(echo "$out" | tr '\n' ' ')"
  took coredns
fi
