#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Generate Rust's declarations of the C glue, rust/glue_bindings.rs, from
# rust/glue.h with the toolchain root's bindgen and the C flags Kbuild
# compiled rust/glue.c with (build/module/rust/.glue.o.cmd: run after
# scripts/module.sh has built the module).
#
#   scripts/glue-bindgen.sh           write rust/glue_bindings.rs
#   scripts/glue-bindgen.sh --check   fail, showing the difference, if the
#                                     committed file is not what bindgen makes

. "$(dirname "$0")/common.sh"

case "${1:---write}" in
--write | --check) mode=${1:---write} ;;
*) die "usage: scripts/glue-bindgen.sh [--write|--check]" ;;
esac

cmdfile=build/module/rust/.glue.o.cmd
[ -f "$TOP/$cmdfile" ] || die "$cmdfile missing: build the module first (scripts/module.sh)"

in_root /bin/bash -eu -c '
cd /src
# The command Kbuild ran for glue.o, split as the shell would.
eval "set -- $(sed -n "s/^savedcmd_[^ ]* := //p" "$1")"
shift # the compiler
flags=()
while [ $# -gt 0 ]; do
	case "$1" in
	-o) shift ;;
	-c | -Wp,-MMD,* | *.c) ;;
	# Paths relative to the build directory of the module.
	-I.) flags+=(-I/src/build/module) ;;
	*) flags+=("$1") ;;
	esac
	shift
done
bindgen rust/glue.h \
	--use-core --no-layout-tests --no-doc-comments --no-prepend-enum-name \
	--ctypes-prefix kernel::ffi \
	--allowlist-file "(.*/)?rust/glue\.h" \
	--blocklist-type cpumask \
	--raw-line "use kernel::bindings::cpumask;" \
	-o build/glue_bindings.rs.tmp -- "${flags[@]}" -D__BINDGEN__ \
	-Wno-unused-command-line-argument
{
	printf "%s\n" "// SPDX-License-Identifier: GPL-2.0" "" \
		"//! Declarations of the C glue, generated from \`glue.h\` by bindgen" \
		"//! (\`scripts/glue-bindgen.sh\`): do not edit." ""
	cat build/glue_bindings.rs.tmp
} >build/glue_bindings.rs
rm build/glue_bindings.rs.tmp
rustfmt --edition 2021 --config-path rust/core/.rustfmt.toml build/glue_bindings.rs 2>&1 |
	grep -v "^Warning: can.t set" >&2 || true
' glue-bindgen "$cmdfile"

if [ "$mode" = --write ]; then
	cp "$TOP/build/glue_bindings.rs" "$TOP/rust/glue_bindings.rs"
	log "wrote rust/glue_bindings.rs"
elif ! diff -u "$TOP/rust/glue_bindings.rs" "$TOP/build/glue_bindings.rs" >&2; then
	die "rust/glue_bindings.rs is not what bindgen makes of rust/glue.h: run scripts/glue-bindgen.sh"
fi
