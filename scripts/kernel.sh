#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the test kernel inside the toolchain root: Linux from the pinned
# linux-source package, host-patches/series applied, configured from
# scripts/config/*.config on top of tinyconfig, every option verified.  The
# result is cached under a key of everything it was built from; prints the
# build directory (as seen from the host) on stdout.

. "$(dirname "$0")/common.sh"

# Flavours: "debug" (default) is the test kernel every guest test runs on;
# "host" leaves out debug.config and serves as the nested KVM host (L1):
# under TCG a lockdep L1 has been seen to lose L2's timer interrupts.
FLAVOUR=${IPI_STEER_KERNEL_FLAVOUR:-debug}
case "$FLAVOUR" in
debug) FRAGMENTS="scripts/config/base.config scripts/config/debug.config" ;;
host) FRAGMENTS="scripts/config/base.config" ;;
*) die "unknown kernel flavour $FLAVOUR (debug or host)" ;;
esac

# IPI_STEER_HOST_PATCHES=none builds the same kernel without
# host-patches/ (to compare the upstream KVM selftests with and without
# them); its trees are cached beside the patched ones.
PATCHES=${IPI_STEER_HOST_PATCHES:-series}
case "$PATCHES" in
series) TAG= ;;
none) TAG=nopatch- ;;
*) die "IPI_STEER_HOST_PATCHES must be series or none" ;;
esac

patch_files() {
	[ "$PATCHES" = series ] || return 0
	[ -f "$TOP/host-patches/series" ] || return 0
	grep -Ev '^[[:space:]]*(#|$)' "$TOP/host-patches/series" |
		sed "s|^|$TOP/host-patches/|"
}

# The options the host patches add, checked like the others when the
# series has patches.
if [ -n "$(patch_files)" ]; then
	FRAGMENTS="$FRAGMENTS scripts/config/host-patches.config"
	[ "$FLAVOUR" = debug ] && FRAGMENTS="$FRAGMENTS scripts/config/host-patches-debug.config"
fi


src_key() {
	# shellcheck disable=SC2046
	key_of "$(kernel_toolchain_key)" "$KERNEL_VERSION" "$PATCHES" \
		"$TOP/host-patches/series" $(patch_files) "$TOP/scripts/kernel.sh"
}

kernel_key() {
	# shellcheck disable=SC2046
	key_of "$(src_key)" $(printf "$TOP/%s " $FRAGMENTS)
}

inner() {
	local src=$1 out=$2
	local j
	j=$(nproc)

	if [ ! -f "$src/.complete" ]; then
		rm -rf "$src.tmp"
		mkdir -p "$src.tmp"
		log "extracting $KERNEL_TARBALL"
		tar -xf "$KERNEL_TARBALL" -C "$src.tmp" --strip-components=1
		local p
		for p in $(patch_files | sed "s|^$TOP|/src|"); do
			log "applying ${p#/src/}"
			git -C "$src.tmp" apply --whitespace=nowarn "$p" ||
				die "${p#/src/} does not apply to Linux $KERNEL_VERSION"
		done
		touch "$src.tmp/.complete"
		rm -rf "$src"
		mv "$src.tmp" "$src"
	fi

	rm -rf "$out"
	mkdir -p "$out"
	local mk=(make -s -C "$src" O="$out" LLVM=1)
	"${mk[@]}" tinyconfig >/dev/null
	# shellcheck disable=SC2046
	(cd "$out" && "$src/scripts/kconfig/merge_config.sh" -m -O "$out" \
		"$out/.config" $(printf "/src/%s " $FRAGMENTS) >/dev/null)
	"${mk[@]}" olddefconfig >/dev/null

	# A missing dependency silently drops an option: check every one.
	local frag line sym bad=0
	for frag in $FRAGMENTS; do
		while IFS= read -r line; do
			case "$line" in
			CONFIG_*=*)
				grep -qxF "$line" "$out/.config" || {
					echo "config: wanted $line, got: $(grep -E "^(# )?${line%%=*}[= ]" "$out/.config" || echo unset)" >&2
					bad=1
				} ;;
			"# CONFIG_"*" is not set")
				sym=${line#\# }
				sym=${sym%% *}
				! grep -q "^$sym=" "$out/.config" || {
					echo "config: wanted $sym unset, got: $(grep "^$sym=" "$out/.config")" >&2
					bad=1
				} ;;
			esac
		done <"/src/$frag"
	done
	[ "$bad" = 0 ] || die "kernel configuration lost options (see above)"
	"${mk[@]}" rustavailable >/dev/null || die "Rust is not available for this kernel build"

	log "building Linux $KERNEL_VERSION (bzImage, modules; -j$j)"
	"${mk[@]}" -j"$j" bzImage modules >"$out/build.log" 2>&1 || {
		tail -40 "$out/build.log" >&2
		die "kernel build failed"
	}
	touch "$out/.complete"
}

if [ "${1:-}" = --inner ]; then
	inner "$2" "$3"
	exit 0
fi

case "${1:-}" in
--key) kernel_key; exit 0 ;;
--src-key) src_key; exit 0 ;;
esac

SRCDIR="linux-$KERNEL_VERSION-$TAG$(src_key)"
KDIR="kbuild-$FLAVOUR-$TAG$(kernel_key)"
if [ ! -f "$CACHE/$KDIR/.complete" ]; then
	"$TOP/scripts/toolchain.sh"
	t0=$(date +%s)
	IPI_STEER_KERNEL_FLAVOUR=$FLAVOUR IPI_STEER_HOST_PATCHES=$PATCHES \
		IN_ROOT_ENV="IPI_STEER_KERNEL_FLAVOUR IPI_STEER_HOST_PATCHES" \
		in_root /src/scripts/kernel.sh --inner "/cache/$SRCDIR" "/cache/$KDIR"
	log "kernel built in $(($(date +%s) - t0)) s"
	# Keep only the current source tree and build tree of each flavour,
	# with and without the host patches.
	for d in "$CACHE"/linux-"$KERNEL_VERSION"-"$TAG"[0-9a-f]* \
		"$CACHE"/kbuild-"$FLAVOUR"-"$TAG"[0-9a-f]*; do
		case "$d" in
		*/"$SRCDIR" | */"$KDIR") ;;
		*) [ -d "$d" ] && rm -rf --one-file-system "$d" ;;
		esac
	done
fi
echo "$CACHE/$KDIR"
