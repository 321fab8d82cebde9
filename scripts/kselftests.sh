#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the KVM selftests that run in L1 (static, from the same kernel source
# as the L1 kernel), cached under the kernel's key.  Prints the directory.

. "$(dirname "$0")/common.sh"

# The upstream tests every run needs, the host patches' own test when the
# series has patches; more can be listed in KSFT_EXTRA.
KSFT_TESTS="x86/xapic_ipi_test x86/xapic_state_test x86/kvm_pv_test
x86/hyperv_ipi x86/fix_hypercall_test ${KSFT_EXTRA:-}"
if grep -Eqv '^[[:space:]]*(#|$)' "$TOP/host-patches/series"; then
	KSFT_TESTS="$KSFT_TESTS x86/ipi_accel_info_test x86/guest_posted_ipi_test"
fi

KDIR=$("$TOP/scripts/kernel.sh")
SRC="$CACHE/linux-$KERNEL_VERSION-$("$TOP/scripts/kernel.sh" --src-key)"
OUT="$CACHE/ksft-$(key_of "$(basename "$KDIR")" "$TOP/scripts/kselftests.sh" "$KSFT_TESTS")"
if [ ! -f "$OUT/.complete" ]; then
	log "building KVM selftests"
	rm -rf "$OUT"
	mkdir -p "$OUT"
	k=/cache/$(basename "$KDIR") s=/cache/$(basename "$SRC") o=/cache/$(basename "$OUT")
	targets=$(for t in $KSFT_TESTS; do printf '%s/%s ' "$o" "$t"; done)
	in_root /bin/sh -c "
		make -s -C $s O=$k headers_install >/dev/null &&
		make -C $s/tools/testing/selftests/kvm OUTPUT=$o \
			KHDR_INCLUDES='-isystem $k/usr/include' \
			EXTRA_CFLAGS=-static LDFLAGS=-static -j$(nproc) $targets" \
		>"$OUT/build.log" 2>&1 || {
		tail -30 "$OUT/build.log" >&2
		die "KVM selftests build failed"
	}
	for t in $KSFT_TESTS; do
		[ -x "$OUT/$t" ] || die "KVM selftest $t was not built"
	done
	find "$OUT" -name '*.o' -delete -o -name '*.d' -delete
	touch "$OUT/.complete"
fi
echo "$OUT"
