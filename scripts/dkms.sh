#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install ipi_steer under DKMS, which rebuilds it for every kernel.
#
#   scripts/dkms.sh source [DESTDIR]   copy the module's sources and
#                                      dkms.conf to DESTDIR/usr/src/ipi_steer-VERSION
#   scripts/dkms.sh install [KERNEL]   source + dkms add, build, install
#                                      (KERNEL: default the running one)
#   scripts/dkms.sh remove             dkms remove --all, delete the sources
#
# Only what Kbuild compiles is copied: Kbuild, Kconfig, dkms.conf, the
# module's Rust and C files and the shared core's sources.  It runs on the
# target machine, not in the toolchain root: nothing from the cache.

set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

VERSION=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$TOP/dkms.conf")
[ -n "$VERSION" ] || die "no PACKAGE_VERSION in dkms.conf"

source_tree() {
	local dst=$1/usr/src/ipi_steer-$VERSION
	rm -rf "$dst"
	mkdir -p "$dst/rust/core/src"
	cp "$TOP/Kbuild" "$TOP/Kconfig" "$TOP/dkms.conf" "$dst/"
	cp "$TOP"/rust/*.rs "$TOP"/rust/*.c "$TOP"/rust/*.h "$dst/rust/"
	cp "$TOP"/rust/core/src/*.rs "$dst/rust/core/src/"
	echo "$dst"
}

need_dkms() {
	command -v dkms >/dev/null || die "dkms is not installed (Debian: apt install dkms)"
	[ "$(id -u)" = 0 ] || die "dkms $1 needs root"
}

case "${1:-}" in
source)
	source_tree "${2:-}"
	;;
install)
	need_dkms install
	K=${2:-$(uname -r)}
	[ -e "/lib/modules/$K/build/rust/kernel.rmeta" ] ||
		die "/lib/modules/$K/build has no Rust metadata: install the headers package and, for Debian's kernels, the overlay from make stock"
	source_tree ""
	dkms remove "ipi_steer/$VERSION" --all >/dev/null 2>&1 || true
	dkms add "ipi_steer/$VERSION"
	dkms build "ipi_steer/$VERSION" -k "$K"
	dkms install "ipi_steer/$VERSION" -k "$K"
	;;
remove)
	need_dkms remove
	dkms remove "ipi_steer/$VERSION" --all || true
	rm -rf "/usr/src/ipi_steer-$VERSION"
	;;
*)
	sed -n '4,11s/^# \{0,1\}//p' "$0" >&2
	exit 2
	;;
esac
