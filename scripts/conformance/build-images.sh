#!/usr/bin/env bash
# Builds the container images the conformance suite runs, once, into CACHE/images/ as
# docker-archive tars that `ctr images import` loads. Nothing can be pulled here: each image is
# made from Debian packages and from the Kubernetes tree, named `v6deploy.lab/e2e/NAME:TAG` with
# the suite's own tag (KUBE_TEST_REPO_LIST points the suite's registries there), so a cluster
# never mistakes one for the upstream image.
#
#   build-images.sh KUBERNETES_CACHE LAB_IMAGES_CACHE CACHE MIRROR
#
# Layers (built once, shared):
#   debian   Debian 12 minbase + curl, netcat-openbsd, bind9-dnsutils, iproute2, wget, the
#            tools the tests run inside agnhost and dnsutils pods (upstream's agnhost has them)
#   busybox  the lab's busybox layer (Debian's busybox-static and its applets)
#   pause    the lab's pause layer
# Images: agnhost 2.21 (the tree's agnhost, its porter TLS pair, coredns from the network
# addons when built), jessie-dnsutils (the debian layer), nautilus (agnhost + the update-demo
# files), pause 3.2, busybox 1.29, httpd 2.4.38/2.4.39 and nginx 1.14/1.15 (busybox httpd on
# port 80 serving the document root the tests move files in), nonewprivs (nnp.go, setuid),
# sample-apiserver 1.17 (staging's sample-apiserver) and etcd 3.4.13-0 (Debian's etcd at
# /usr/local/bin/etcd) for the aggregator test.
set -euo pipefail
k8s=$1 lab_images=$2 cache=$3 mirror=$4
tree=$k8s/tree bin=$cache/bin out=$cache/images layers=$cache/images/layers
registry=v6deploy.lab/e2e
mkdir -p "$layers"

tar_dir() { # DIR TAR: a tar of DIR's contents with fixed times, owners and order
  (cd "$1" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort |
    tar --create --file="$2.partial" --format=gnu --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --files-from=-)
  mv "$2.partial" "$2"
}

json_list() { # WORDS...: a JSON list of strings (no quoting needed for these)
  local out="" w
  for w in "$@"; do out+="${out:+,}\"$w\""; done
  printf '[%s]' "$out"
}

image() { # FILE REF ENTRYPOINT CMD LAYER_TAR...: ENTRYPOINT and CMD are space-separated words or -
  local file=$1 ref=$2 entrypoint=$3 cmd=$4; shift 4
  local tar=$out/$file
  if [[ -f $tar ]] && [[ -z $(find "$@" -newer "$tar") ]]; then return; fi
  echo "== image $ref"
  local dir=$tar.building diff_ids="" names="" i=0 layer
  rm -rf "$dir" && mkdir -p "$dir"
  for layer in "$@"; do
    ln "$layer" "$dir/layer$i.tar" 2>/dev/null || cp "$layer" "$dir/layer$i.tar"
    diff_ids+="${diff_ids:+,}\"sha256:$(sha256sum "$layer" | cut -d' ' -f1)\""
    names+="${names:+,}\"layer$i.tar\""
    i=$((i + 1))
  done
  local config='"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"WorkingDir":"/"'
  # shellcheck disable=SC2086
  [[ $entrypoint == - ]] || config+=",\"Entrypoint\":$(json_list $entrypoint)"
  # shellcheck disable=SC2086
  [[ $cmd == - ]] || config+=",\"Cmd\":$(json_list $cmd)"
  printf '{"architecture":"amd64","os":"linux","config":{%s},"rootfs":{"type":"layers","diff_ids":[%s]}}' "$config" "$diff_ids" >"$dir/config.json"
  printf '[{"Config":"config.json","RepoTags":["%s"],"Layers":[%s]}]' "$ref" "$names" >"$dir/manifest.json"
  tar_dir "$dir" "$tar"
  rm -rf "$dir"
}

layer() { # NAME: the path of layer NAME's tar; its rootfs is filled by the caller in $rootfs
  echo "$layers/$1.tar"
}
begin_layer() { # NAME: a fresh rootfs for layer NAME in $rootfs
  rootfs=$layers/$1.rootfs
  rm -rf "$rootfs" && mkdir -p "$rootfs"
  echo "== layer $1"
}
end_layer() { # NAME
  tar_dir "$rootfs" "$(layer "$1")"
  rm -rf "$rootfs"
}

# The lab's own layers (made by `lab up`).
for name in busybox pause; do
  if [[ ! -f $lab_images/layers/$name.tar ]]; then
    echo "conformance: $lab_images/layers/$name.tar is missing: run 'v6deploy lab up' first (it builds the lab's images)" >&2
    exit 1
  fi
done
busybox=$lab_images/layers/busybox.tar pause=$lab_images/layers/pause.tar

# debian: debootstrap, then trimmed.
if [[ ! -f $(layer debian) ]]; then
  begin_layer debian
  mkdir -p "$cache/debootstrap-debs"
  debootstrap --variant=minbase --cache-dir="$cache/debootstrap-debs" \
    --include=curl,netcat-openbsd,bind9-dnsutils,iproute2,wget,iputils-ping,ca-certificates \
    bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
    { echo "conformance: debootstrap failed, see $cache/debootstrap.log" >&2; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc \
    "$rootfs"/usr/share/man "$rootfs"/usr/share/locale "$rootfs"/usr/share/info
  mkdir -p "$rootfs/usr/share/doc" "$rootfs/uploads"
  end_layer debian
fi

# agnhost: the binary with the upstream image's files, its links and coredns.
if [[ ! -f $(layer agnhost) || $bin/agnhost -nt $(layer agnhost) ]]; then
  begin_layer agnhost
  cp "$bin/agnhost" "$rootfs/agnhost"
  ln -s agnhost "$rootfs/agnhost-2"
  cp "$tree/test/images/agnhost/porter/localhost.crt" "$tree/test/images/agnhost/porter/localhost.key" "$rootfs/"
  coredns=/var/cache/v6deploy/lab/network-addons-v1/bin/coredns
  if [[ -x $coredns ]]; then cp "$coredns" "$rootfs/coredns"; fi
  end_layer agnhost
fi

if [[ ! -f $(layer nautilus) ]]; then
  begin_layer nautilus
  cp "$tree/test/images/nautilus/html/nautilus.jpg" "$tree/test/images/nautilus/html/data.json" "$rootfs/"
  end_layer nautilus
fi

# Web servers: busybox httpd in the foreground on port 80, serving the image's document root.
web_layer() { # NAME DOCROOT DESCRIPTION COMMAND
  if [[ -f $(layer "$1") ]]; then return; fi
  begin_layer "$1"
  mkdir -p "$rootfs/$2" "$rootfs/usr/local/bin"
  printf '<html><body><h1>It works!</h1></body></html>\n' >"$rootfs/$2/index.html"
  printf '#!/bin/sh\n# %s\nexec httpd -f -p 80 -h %s\n' "$3" "/$2" >"$rootfs/usr/local/bin/$4"
  chmod 755 "$rootfs/usr/local/bin/$4"
  end_layer "$1"
}
web_layer httpd-2.4.38 usr/local/apache2/htdocs "httpd 2.4.38 stand-in" httpd-foreground
web_layer httpd-2.4.39 usr/local/apache2/htdocs "httpd 2.4.39 stand-in" httpd-foreground
web_layer nginx-1.14 usr/share/nginx/html "nginx 1.14 stand-in" nginx-foreground
web_layer nginx-1.15 usr/share/nginx/html "nginx 1.15 stand-in" nginx-foreground

# nonewprivs and sample-apiserver: static Go binaries from the tree.
go_build() { # OUTPUT PACKAGE
  if [[ -x $2 ]]; then return; fi
  echo "== building $(basename "$2")"
  (cd "$tree" && PATH="$k8s/go/usr/lib/go-1.15/bin:$PATH" GOROOT="$k8s/go/usr/lib/go-1.15" GOPROXY=off \
    GOFLAGS=-mod=vendor GO111MODULE=on GOCACHE="$cache/gocache" GOPATH="$cache/gopath" HOME="$cache" CGO_ENABLED=0 \
    go build -ldflags "-s -w" -o "$2.partial" "$1")
  mv "$2.partial" "$2"
}
go_build ./test/images/nonewprivs "$bin/nnp"
# staging's sample-apiserver: its packages are vendored, its main package is not; a copy of
# main.go under the tree's _output/ (the build output directory) makes it part of the tree's
# module.
main=$tree/_output/v6deploy-conformance/sample-apiserver
mkdir -p "$main" && cp "$tree/staging/src/k8s.io/sample-apiserver/main.go" "$main/"
go_build ./_output/v6deploy-conformance/sample-apiserver "$bin/sample-apiserver"
if [[ ! -f $(layer nonewprivs) ]]; then
  begin_layer nonewprivs
  mkdir -p "$rootfs/usr/local/bin"
  cp "$bin/nnp" "$rootfs/usr/local/bin/nnp"
  chmod 4755 "$rootfs/usr/local/bin/nnp"
  end_layer nonewprivs
fi
if [[ ! -f $(layer sample-apiserver) ]]; then
  begin_layer sample-apiserver
  cp "$bin/sample-apiserver" "$rootfs/sample-apiserver"
  end_layer sample-apiserver
fi

# etcd: Debian 12's etcd-server, where the aggregator test runs it.
if [[ ! -f $(layer etcd) ]]; then
  begin_layer etcd
  deb=$(ls /var/cache/v6deploy/lab/debian-debs/etcd-server_*.deb 2>/dev/null | tail -n 1 || true)
  if [[ -z $deb ]]; then
    (cd "$cache" && apt-get download -q etcd-server >/dev/null)
    deb=$(ls "$cache"/etcd-server_*.deb | tail -n 1)
  fi
  dpkg-deb -x "$deb" "$rootfs.deb"
  mkdir -p "$rootfs/usr/local/bin"
  cp "$rootfs.deb/usr/bin/etcd" "$rootfs/usr/local/bin/etcd"
  rm -rf "$rootfs.deb"
  end_layer etcd
fi

image pause.tar "$registry/pause:3.2" /pause - "$pause"
image busybox.tar "$registry/busybox:1.29" - sh "$busybox"
image agnhost.tar "$registry/agnhost:2.21" /agnhost pause "$(layer debian)" "$(layer agnhost)"
image jessie-dnsutils.tar "$registry/jessie-dnsutils:1.0" - bash "$(layer debian)"
image nautilus.tar "$registry/nautilus:1.0" /agnhost test-webserver "$(layer debian)" "$(layer agnhost)" "$(layer nautilus)"
image httpd-2.4.38.tar "$registry/httpd:2.4.38-alpine" - httpd-foreground "$busybox" "$(layer httpd-2.4.38)"
image httpd-2.4.39.tar "$registry/httpd:2.4.39-alpine" - httpd-foreground "$busybox" "$(layer httpd-2.4.39)"
image nginx-1.14.tar "$registry/nginx:1.14-alpine" - nginx-foreground "$busybox" "$(layer nginx-1.14)"
image nginx-1.15.tar "$registry/nginx:1.15-alpine" - nginx-foreground "$busybox" "$(layer nginx-1.15)"
image nonewprivs.tar "$registry/nonewprivs:1.0" - nnp "$busybox" "$(layer nonewprivs)"
image sample-apiserver.tar "$registry/sample-apiserver:1.17" /sample-apiserver - "$busybox" "$(layer sample-apiserver)"
image etcd.tar "$registry/etcd:3.4.13-0" - "/usr/local/bin/etcd" "$(layer debian)" "$(layer etcd)"
