#!/usr/bin/env bash
# Builds the Kubernetes e2e suite of the lab's Kubernetes tree, once, into CACHE/bin:
# e2e.test, ginkgo and a static agnhost. Uses the Go 1.15 and the build cache the lab's
# Kubernetes build left (/var/cache/v6deploy/lab/kubernetes-1.20.2) and writes nothing into
# that tree: module mode with the tree's vendor/, output into CACHE.
#
#   build-suite.sh KUBERNETES_CACHE CACHE
set -euo pipefail
k8s=$1 cache=$2
tree=$k8s/tree
go_root=$k8s/go/usr/lib/go-1.15
if [[ ! -x $go_root/bin/go || ! -f $tree/.unpacked ]]; then
  echo "conformance: no Kubernetes tree or Go in $k8s: run 'v6deploy lab up' first (it builds them)" >&2
  exit 1
fi
version=v${k8s##*/kubernetes-}
export PATH="$go_root/bin:$PATH" GOROOT="$go_root" GOPROXY=off GOFLAGS=-mod=vendor GO111MODULE=on
export GOPATH="$cache/gopath" GOCACHE="$cache/gocache" HOME="$cache"
mkdir -p "$cache/bin"
cd "$tree"
# The version the binaries report (e2e.test --version; the suite logs it).
ldflags="-s -w"
for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $package.gitVersion=$version -X $package.gitMajor=1 -X $package.gitMinor=20 -X $package.gitTreeState=clean"
done

build() { # NAME PACKAGE GO-COMMAND...: built to NAME.partial, then renamed
  local name=$1 package=$2; shift 2
  if [[ -x $cache/bin/$name ]]; then return; fi
  echo "== building $name"
  "$@" -ldflags "$ldflags" -o "$cache/bin/$name.partial" "$package"
  mv "$cache/bin/$name.partial" "$cache/bin/$name"
}
build ginkgo ./vendor/github.com/onsi/ginkgo/ginkgo go build
build agnhost ./test/images/agnhost env CGO_ENABLED=0 go build -a -installsuffix cgo
build e2e.test ./test/e2e go test -c
"$cache/bin/e2e.test" --version
