#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Create the toolchain root: a minimal Debian root with every package pinned
# in scripts/pins.env.  The root is keyed by the pins and this script, so a
# second run does nothing and a version change builds a new root.  The host
# only needs debootstrap (installed here when missing).

. "$(dirname "$0")/common.sh"
host_only

if [ -f "$ROOT/.complete" ]; then
	log "toolchain root up to date: $(basename "$ROOT")"
	exit 0
fi

[ "$(id -u)" = 0 ] || die "building the toolchain root needs root (debootstrap, chroot)"
if ! command -v debootstrap >/dev/null; then
	log "installing debootstrap on the host"
	apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null
fi

MIRROR=$(debian_mirror)
TMP="$ROOT.tmp"
rm -rf --one-file-system "$TMP"
mkdir -p "$TMP"

log "debootstrap $SUITE into $(basename "$ROOT")"
# In a private mount namespace: whatever debootstrap mounts dies with it.
unshare --mount --propagation private -- \
	debootstrap --variant=minbase "$SUITE" "$TMP" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
	die "debootstrap failed, see $CACHE/debootstrap.log"

cat >"$TMP/etc/apt/sources.list" <<SRC
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $MIRROR $BACKPORTS main
deb $MIRROR-security $SUITE-security main
SRC
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
	>"$TMP/etc/apt/apt.conf.d/90ipi-steer"

ROOT="$TMP"
log "installing pinned packages"
# shellcheck disable=SC2086
in_root /bin/sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -qq $(echo $PIN_PACKAGES $PIN_TOOLS) >/tmp/apt.log 2>&1 || { tail -30 /tmp/apt.log; exit 1; }"

log "verifying pinned versions"
bad=0
for p in $PIN_PACKAGES $PIN_TOOLS; do
	name=${p%%=*} want=${p#*=}
	have=$(in_root dpkg-query -W -f='${Version}' "$name" 2>/dev/null || true)
	if [ "$have" != "$want" ]; then
		echo "pin mismatch: $name wants $want, installed '${have:-none}'" >&2
		bad=1
	fi
done
[ "$bad" = 0 ] || die "the toolchain root does not match scripts/pins.env"
in_root apt-get clean

rustc_v=$(in_root rustc --version)
src_v=$(in_root sh -c 'ls -d /usr/lib/rustlib/src/rust/library/core >/dev/null && echo ok')
[ "$src_v" = ok ] || die "rust-src missing in the root"
log "root ready: $rustc_v, $(in_root bindgen --version), $(in_root clang --version | head -n1)"

# Replace any older root; none is ever mounted outside a private namespace.
for old in "$CACHE"/root-*; do
	case "$old" in "$TMP" | *.tmp) continue ;; esac
	[ -d "$old" ] && rm -rf --one-file-system "$old"
done
touch "$TMP/.complete"
mv "$TMP" "${TMP%.tmp}"
log "toolchain root ready"
