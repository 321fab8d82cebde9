#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Prove the in-tree path: copy ipi_steer into the cached kernel source as
# drivers/virt/ipi_steer (with the top-level Kconfig), then build it as =m and
# as =y (linked into vmlinux), each in its own copy of the kernel build
# directory.  The copies are kept and rebuilt incrementally; a run with
# unchanged sources rebuilds nothing.  The =m copy also builds KVM as
# modules (kvm, kvm-amd, kvm-intel) with the host patches and KVM_WERROR:
# the test kernel proves them built in (=y), this proves them as modules.

. "$(dirname "$0")/common.sh"


# The module's sources, as the kernel tree will hold them.
module_files() {
	(cd "$TOP" && ls Kconfig Kbuild rust/*.rs rust/*.c rust/*.h 2>/dev/null &&
		find rust/core/src -name '*.rs' 2>/dev/null) | sort
}
# shellcheck disable=SC2046
MKEY=$(key_of $(module_files | sed "s|^|$TOP/|") "$TOP/scripts/intree.sh")

inner() {
	local src=$1 kdir=$2 mode=$3 out=$4 f
	local dst=$src/drivers/virt/ipi_steer

	rm -rf "$dst"
	mkdir -p "$dst"
	for f in $(cd /src && module_files); do
		mkdir -p "$dst/$(dirname "$f")"
		cp "/src/$f" "$dst/$f"
	done
	grep -q ipi_steer "$src/drivers/virt/Kconfig" ||
		printf '\nsource "drivers/virt/ipi_steer/Kconfig"\n' >>"$src/drivers/virt/Kconfig"
	grep -q ipi_steer "$src/drivers/virt/Makefile" ||
		printf 'obj-$(CONFIG_IPI_STEER)\t\t+= ipi_steer/\n' >>"$src/drivers/virt/Makefile"

	if [ ! -f "$out/.config" ]; then
		rm -rf "$out"
		cp -a "$kdir" "$out"
		rm -f "$out/.complete" "$out/build.log"
	fi
	local mk=(make -s -C "$src" O="$out" LLVM=1)
	case "$mode" in
	m) "$src/scripts/config" --file "$out/.config" --module IPI_STEER \
		--module KVM --module KVM_AMD --module KVM_INTEL ;;
	y) "$src/scripts/config" --file "$out/.config" --enable IPI_STEER ;;
	esac
	"${mk[@]}" olddefconfig >/dev/null
	grep -qx "CONFIG_IPI_STEER=$mode" "$out/.config" ||
		die "in-tree: CONFIG_IPI_STEER=$mode did not stick ($(grep IPI_STEER "$out/.config"))"
	if [ "$mode" = m ]; then
		grep -qx "CONFIG_KVM=m" "$out/.config" ||
			die "in-tree: CONFIG_KVM=m did not stick"
	fi

	# =m: vmlinux is relinked too, since KVM moved out of it.
	local target="bzImage modules"
	[ "$mode" = y ] && target=bzImage
	log "in-tree build, CONFIG_IPI_STEER=$mode ($target)"
	# shellcheck disable=SC2086
	"${mk[@]}" -j"$(nproc)" $target >"$out/build.log" 2>&1 || {
		tail -40 "$out/build.log" >&2
		die "in-tree build with CONFIG_IPI_STEER=$mode failed"
	}
	if grep -E 'warning:|error:' "$out/build.log" | grep -q ipi_steer; then
		grep -E 'warning:|error:' "$out/build.log" >&2
		die "in-tree build with CONFIG_IPI_STEER=$mode is not warning-free"
	fi
	case "$mode" in
	m) [ -f "$out/drivers/virt/ipi_steer/ipi_steer.ko" ] ||
		die "in-tree =m produced no ipi_steer.ko"
		for f in kvm kvm-amd kvm-intel; do
			[ -f "$out/arch/x86/kvm/$f.ko" ] || die "KVM=m produced no $f.ko"
		done
		if grep -q '^CONFIG_KVM_IPI_ACCEL_INFO=y' "$out/.config"; then
			nm "$out/arch/x86/kvm/kvm.ko" | grep -q ' T kvm_ipi_accel_info$' ||
				die "KVM=m: the host patches' Rust logic is not in kvm.ko"
			grep -E 'warning:|error:' "$out/build.log" | grep -q 'arch/x86/kvm' &&
				die "KVM=m with the host patches is not warning-free"
		fi
		log "in-tree: kvm.ko, kvm-amd.ko, kvm-intel.ko built as modules" ;;
	y) nm "$out/vmlinux" | grep -q ' ipi_steer_glue_features$' ||
		die "in-tree =y: ipi_steer is not in vmlinux" ;;
	esac
	log "in-tree CONFIG_IPI_STEER=$mode: ok"
}

if [ "${1:-}" = --inner ]; then
	inner "$2" "$3" "$4" "$5"
	exit 0
fi

KDIR=$("$TOP/scripts/kernel.sh")
SRC="$CACHE/linux-$KERNEL_VERSION-$("$TOP/scripts/kernel.sh" --src-key)"
KKEY=$(basename "$KDIR")
KKEY=${KKEY#kbuild-}

for mode in m y; do
	out=intree-$mode-$KKEY
	if [ -f "$CACHE/$out/.complete-$MKEY" ]; then
		log "in-tree CONFIG_IPI_STEER=$mode: up to date"
		continue
	fi
	module_files >/dev/null
	in_root /src/scripts/intree.sh --inner "/cache/$(basename "$SRC")" \
		"/cache/$(basename "$KDIR")" "$mode" "/cache/$out"
	rm -f "$CACHE/$out"/.complete-*
	touch "$CACHE/$out/.complete-$MKEY"
	for d in "$CACHE"/intree-"$mode"-*; do
		[ "$d" = "$CACHE/$out" ] || rm -rf --one-file-system "$d"
	done
done
