#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Userspace tests of the shared core, the simulator and the posted-interrupt
# protocol model: cargo test and clippy (warnings are errors), with the host's
# cargo; then the model's state counts, from the binary the tests built (its
# test profile is optimized, so the exhaustive search takes seconds).

. "$(dirname "$0")/common.sh"

command -v cargo >/dev/null || die "cargo is needed for the core tests"
for crate in rust/core rust/sim rust/model; do
	[ -f "$TOP/$crate/Cargo.toml" ] || continue
	log "cargo test ($crate)"
	(cd "$TOP/$crate" && cargo test --quiet 2>&1) || die "cargo test failed in $crate"
	if cargo fmt --version >/dev/null 2>&1; then
		(cd "$TOP/$crate" && cargo fmt --check >/dev/null 2>&1) ||
			die "rust code is not rustfmt-clean in $crate (cargo fmt --check)"
	fi
	if cargo clippy --version >/dev/null 2>&1; then
		(cd "$TOP/$crate" && cargo clippy --quiet --all-targets -- -D warnings 2>&1) ||
			die "clippy is not clean in $crate"
	fi
done
if [ -f "$TOP/rust/model/Cargo.toml" ]; then
	log "posted-interrupt model: states explored"
	(cd "$TOP/rust/model" && cargo run --quiet --profile test 2>&1) >&2 ||
		die "the posted-interrupt model found a violation"
fi
