# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the build and VM scripts.  Source, don't execute.

set -eu

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=pins.env
. "$TOP/scripts/pins.env"

# Large build products live outside the repository, keyed by their inputs.
CACHE=${IPI_STEER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ipi_steer}
mkdir -p "$CACHE"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Short content hash of files (and extra strings) for cache keys.
key_of() {
	local f
	for f in "$@"; do
		if [ -f "$f" ]; then
			printf '%s\n' "${f#"$TOP"/}"
			cat "$f"
		else
			printf '%s\n' "$f"
		fi
	done | sha256sum | cut -c1-16
}

# The Debian mirror the host already uses (first Debian URI in its apt
# sources); IPI_STEER_MIRROR overrides it.
debian_mirror() {
	if [ -n "${IPI_STEER_MIRROR:-}" ]; then
		echo "$IPI_STEER_MIRROR"
		return
	fi
	local m
	m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -Eo '(https?|file)://[^ ]*/debian/?( |$)' | head -n1 | tr -d ' ')
	[ -n "$m" ] || die "no Debian mirror in the host's apt sources; set IPI_STEER_MIRROR"
	echo "${m%/}"
}

toolchain_key() {
	key_of "$TOP/scripts/pins.env" "$TOP/scripts/toolchain.sh"
}

# What the kernel build depends on: the compiler packages, not the tools.
kernel_toolchain_key() {
	key_of "$SUITE" "$PIN_PACKAGES"
}

# Host-side steps (building the root, the kernel, booting) must never run
# inside the root, where the cache is not where the host keeps it.
host_only() {
	[ "${IPI_STEER_IN_ROOT:-0}" != 1 ] ||
		die "$(basename "$0"): host-side step called inside the toolchain root"
}

ROOT="$CACHE/root-$(toolchain_key)"

# Run a command inside the toolchain root: private mount namespace (every
# mount disappears with the command, so nothing stays bound to the root), a
# minimal private /dev without kvm, the repository at /src and the cache at
# /cache.  Only the variables named in IN_ROOT_ENV are passed in.
in_root() {
	[ -x "$ROOT/usr/bin/env" ] || die "toolchain root missing: run scripts/toolchain.sh"
	local envs=() v
	for v in ${IN_ROOT_ENV:-}; do
		envs+=("$v=${!v-}")
	done
	unshare --mount --propagation private -- /bin/bash -eu -c '
		R=$1; TOP=$2; CACHE=$3; shift 3
		mount -t proc proc "$R/proc"
		mount -t sysfs -o ro sysfs "$R/sys"
		mount -t tmpfs -o mode=755,size=1m devtmp "$R/dev"
		for n in "null 1 3" "zero 1 5" "random 1 8" "urandom 1 9" "tty 5 0"; do
			read -r d ma mi <<<"$n"
			mknod -m 666 "$R/dev/$d" c "$ma" "$mi"
		done
		mkdir "$R/dev/pts" "$R/dev/shm"
		mount -t devpts -o newinstance,ptmxmode=666 devpts "$R/dev/pts"
		ln -s pts/ptmx "$R/dev/ptmx"
		mount -t tmpfs tmpfs "$R/dev/shm"
		ln -s /proc/self/fd "$R/dev/fd"
		mkdir -p "$R/src" "$R/cache"
		mount --bind "$TOP" "$R/src"
		mount --bind "$CACHE" "$R/cache"
		exec chroot "$R" "$@"
	' in_root "$ROOT" "$TOP" "$CACHE" /usr/bin/env -i \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		IPI_STEER_IN_ROOT=1 \
		HOME=/root LANG=C.UTF-8 TERM=dumb "${envs[@]}" "$@"
}
