#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Lint the host patches' Rust inside KVM (arch/x86/kvm/*.rs) with the
# kernel's own clippy setup (make CLIPPY=1), in a copy of the cached debug
# kernel build (the flavour that also compiles their KUnit suites), so the
# cached kernel is never rebuilt.  Fails on any clippy warning or error
# located in arch/x86/kvm/; warnings in the kernel's own crates are
# reported, not judged.  A clean result is kept per kernel cache key and
# toolchain root (the clippy version).
#
#   scripts/kvm-clippy.sh            lint (or report the cached result)
#   scripts/kvm-clippy.sh --judge F  judge an existing make CLIPPY=1 log F

. "$(dirname "$0")/common.sh"

# judge LOG: the clippy diagnostics of LOG that point into arch/x86/kvm/.
judge() {
	awk '
	/^(warning|error)(\[[A-Za-z0-9]+\])?: / { msg = $0; next }
	/^ *--> / && msg != "" {
		if ($2 ~ /(^|\/)arch\/x86\/kvm\//)
			print $2 ": " msg
		msg = ""
	}' "$1"
}

if [ "${1:-}" = --judge ]; then
	[ -f "${2:-}" ] || die "usage: scripts/kvm-clippy.sh --judge LOG"
	bad=$(judge "$2")
	[ -z "$bad" ] || { echo "$bad"; exit 1; }
	exit 0
fi

KDIR=$("$TOP/scripts/kernel.sh")
SRC=$(readlink "$KDIR/source") # /cache/linux-..., as the root sees it
OUT=$CACHE/kclippy-$(basename "$KDIR")
LOG=$TOP/build/kvm-clippy.log
mkdir -p "$TOP/build"

STAMP=$OUT/.clippy-clean-$(toolchain_key)
if [ -f "$STAMP" ]; then
	log "KVM's Rust clippy-clean (cached result for $(basename "$KDIR"))"
	exit 0
fi
in_root sh -c 'command -v clippy-driver >/dev/null' ||
	die "clippy-driver missing in the toolchain root (scripts/pins.env)"
# Only the copy of the current kernel is kept.
for old in "$CACHE"/kclippy-*; do
	[ -d "$old" ] && rm -rf --one-file-system "$old"
done
cp -a "$KDIR" "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
log "make CLIPPY=1 arch/x86/kvm/ in a copy of $(basename "$KDIR")"
in_root make -C "$SRC" O="/cache/$(basename "$OUT")" LLVM=1 CLIPPY=1 -j"$(nproc)" \
	arch/x86/kvm/ >"$LOG" 2>&1 || {
	tail -n 40 "$LOG" >&2
	die "make CLIPPY=1 arch/x86/kvm/ failed, see build/kvm-clippy.log"
}
linted=$(grep -c '^ *CLIPPY *arch/x86/kvm/' "$LOG" || true)
[ "$linted" -gt 0 ] || die "no Rust object of arch/x86/kvm/ went through clippy"
bad=$(judge "$LOG")
if [ -n "$bad" ]; then
	echo "$bad" >&2
	die "clippy warnings in KVM's Rust (full log: build/kvm-clippy.log)"
fi
others=$(grep -E '^(warning|error)(\[[A-Za-z0-9]+\])?: ' "$LOG" | grep -cv ' emitted$' || true)
objs=$(grep '^ *CLIPPY *arch/x86/kvm/' "$LOG" | awk '{print $2}' | paste -sd' ')
log "KVM's Rust clippy-clean: $linted objects ($objs); $others diagnostics elsewhere (the kernel's own crates)"
touch "$STAMP"
