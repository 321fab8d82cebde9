#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Instructions per plan, counted by callgrind (deterministic): builds the
# plan_cost example in release mode and runs each case under callgrind,
# collecting only inside the timed function, then prints a markdown table.
#
# Usage: rust/core/callgrind.sh [--scalar] [iterations]
#
# --scalar builds the way the kernel builds Rust (opt-level 2, no SIMD, so
# no vectorized loops), into target/scalar, instead of cargo's release profile.
set -eu
cd "$(dirname "$0")"
target=target
if [ "${1:-}" = --scalar ]; then
	shift
	target=target/scalar
	export CARGO_TARGET_DIR="$target" CARGO_PROFILE_RELEASE_OPT_LEVEL=2
	export RUSTFLAGS="${RUSTFLAGS:-} -C no-vectorize-loops -C no-vectorize-slp"
fi
iters=${1:-200}
command -v valgrind >/dev/null || { echo "valgrind not found" >&2; exit 1; }
cargo build --quiet --release --example plan_cost
bin=$target/release/examples/plan_cost
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ir() { # layout n which fn costs
	valgrind --tool=callgrind --callgrind-out-file="$tmp/out" \
		--toggle-collect="plan_cost::$4" "$bin" "$1" "$2" "$iters" "$3" "$5" \
		>/dev/null 2>&1
	total=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$tmp/out")
	[ -n "$total" ] || total=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$tmp/out")
	echo $((total / iters))
}

per() { # total n -> "x.y"
	echo "$(($1 / $2)).$(($1 * 10 / $2 % 10))"
}

echo "| layout | targets | steer, skylake table | per target | steer, ipiv table | per target | stock | per target |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for layout in dense sparse unsorted; do
	for n in 1 8 64 256 1024; do
		s=$(ir "$layout" "$n" steer steer_once skylake)
		m=$(ir "$layout" "$n" steer steer_once ipiv)
		k=$(ir "$layout" "$n" stock stock_once skylake)
		echo "| $layout | $n | $s | $(per "$s" "$n") | $m | $(per "$m" "$n") | $k | $(per "$k" "$n") |"
	done
done
