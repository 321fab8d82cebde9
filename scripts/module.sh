#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build ipi_steer.ko out of tree (Kbuild, LLVM=1) against the cached test
# kernel, objects in build/module/.  Fails on any compiler warning.  Prints
# the path of the .ko.

. "$(dirname "$0")/common.sh"

# Also builds the copy with the KUnit suite (build/module-kunit/, printed
# with --test) and the test module selftests/ipi_traffic (build/ipi_traffic/).

KDIR=$("$TOP/scripts/kernel.sh")

# $1 = module source dir (in the repo), $2 = output dir, $3... = make args
build() {
	local src=$1 out=$2
	shift 2
	mkdir -p "$TOP/$out"
	in_root make -C "/cache/${KDIR#"$CACHE"/}" M="/src/$src" MO="/src/$out" \
		LLVM=1 "$@" modules >"$TOP/$out/build.log" 2>&1 || {
		cat "$TOP/$out/build.log" >&2
		die "module build failed in ${src:-.}"
	}
	if grep -Eq 'warning:|error:' "$TOP/$out/build.log"; then
		cat "$TOP/$out/build.log" >&2
		die "the build of ${src:-.} is not warning-free"
	fi
}
# IPI_STEER_FAULT=drop_ipi builds a module that loses one reschedule IPI in 50,
# IPI_STEER_FAULT=knob_invalid one whose costs knob applies out-of-range
# values (fault demos, see scripts/check.sh).
fault=
case "${IPI_STEER_FAULT:-}" in
drop_ipi | knob_invalid) fault=IPI_STEER_FAULT=$IPI_STEER_FAULT ;;
esac
# The module's Rust (and the core files it mounts) must be rustfmt-clean,
# with the kernel toolchain's rustfmt and the project's settings.
mkdir -p "$TOP/build"
in_root sh -c 'cd /src && rustfmt --edition 2021 --config-path rust/core/.rustfmt.toml \
	--check rust/*.rs' >"$TOP/build/rustfmt.log" 2>&1 || {
	grep -v '^Warning' "$TOP/build/rustfmt.log" >&2
	die "rust/*.rs is not rustfmt-clean"
}
build "" build/module CONFIG_IPI_STEER=m $fault
# Rust's declarations of the glue must be what bindgen makes of glue.h
# (with the flags glue.c was just compiled with).
"$TOP/scripts/glue-bindgen.sh" --check
# The copy the test guests load: the same module plus its KUnit suite and
# the fault_hypercall knob (off unless a test arms it).
build "" build/module-kunit CONFIG_IPI_STEER=m CONFIG_IPI_STEER_KUNIT_TEST=y \
	CONFIG_IPI_STEER_FAULT_INJECTION=y $fault
build selftests/ipi_traffic build/ipi_traffic
if [ "${1:-}" = --test ]; then
	echo "$TOP/build/module-kunit/ipi_steer.ko"
else
	echo "$TOP/build/module/ipi_steer.ko"
fi
