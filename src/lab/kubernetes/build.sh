#!/bin/sh
# Builds the lab's Kubernetes binaries from Debian's `kubernetes` source package (1.20.2, with
# its vendor/ tree) with Go 1.15 from Debian 11, offline once the sources are fetched. Run by
# `v6deploy lab up` (src/lab/kubernetes.rs), which caches the result; never edits the
# machine's apt configuration: a private sources list, lists and archives live under CACHE.
#
#   build.sh CACHE MIRROR VERSION
#
# Leaves CACHE/bin/{kube-apiserver,kube-controller-manager,kube-scheduler,kubelet,kube-proxy,kubectl}
# (stripped, `--version` = vVERSION). Prints `== step` lines for progress.
set -eu
cache=$1 mirror=$2 version=$3
apt_dir=$cache/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$cache/src" "$cache/go-debs"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
cat > "$apt_dir/sources.list" <<SOURCES
deb-src [signed-by=$keyring] $mirror bookworm main
deb [signed-by=$keyring] $mirror bullseye main
SOURCES
apt() {
  apt-get -q -o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache::Archives="$apt_dir/archives" \
    -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root "$@"
}

if ! ls "$cache"/src/kubernetes_*.orig.tar.* >/dev/null 2>&1 || ! ls "$cache"/go-debs/golang-1.15-src_*.deb >/dev/null 2>&1; then
  echo "== fetching Debian's kubernetes source and Go 1.15 (private apt configuration in $apt_dir)"
  apt update >/dev/null
  (cd "$cache/src" && apt source --download-only kubernetes >/dev/null)
  (cd "$cache/go-debs" && apt download golang-1.15-go golang-1.15-src >/dev/null)
fi

go_root=$cache/go
if [ ! -x "$go_root/usr/lib/go-1.15/bin/go" ]; then
  echo "== unpacking Go 1.15"
  rm -rf "$go_root"
  for deb in "$cache"/go-debs/*.deb; do dpkg-deb -x "$deb" "$go_root"; done
fi

tree=$cache/tree
if [ ! -f "$tree/.unpacked" ]; then
  echo "== unpacking the kubernetes source"
  rm -rf "$tree" && mkdir -p "$tree"
  tar -xf "$(ls "$cache"/src/kubernetes_*.orig.tar.* | head -n 1)" -C "$tree" --strip-components=1
  touch "$tree/.unpacked"
fi

echo "== building Kubernetes v$version (kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl); about 15 minutes on 2 cores"
cd "$tree"
export PATH="$go_root/usr/lib/go-1.15/bin:$PATH" GOROOT="$go_root/usr/lib/go-1.15" GOPROXY=off GOFLAGS=-mod=vendor GO111MODULE=on
export GOPATH="$cache/gopath" GOCACHE="$cache/gocache" HOME="$cache"
export KUBE_GIT_VERSION="v$version" KUBE_GIT_TREE_STATE=clean KUBE_BUILD_PLATFORMS=linux/amd64 KUBE_STATIC_OVERRIDES=kubelet
make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler cmd/kubelet cmd/kube-proxy cmd/kubectl" GOLDFLAGS="-s -w"

mkdir -p "$cache/bin.partial"
for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
  cp "_output/local/bin/linux/amd64/$b" "$cache/bin.partial/$b"
  chmod 755 "$cache/bin.partial/$b"
done
rm -rf "$cache/bin" && mv "$cache/bin.partial" "$cache/bin"
echo "== built: $("$cache/bin/kubelet" --version)"
