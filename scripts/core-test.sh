#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Userspace tests of the shared core and the simulator: cargo test and
# clippy (warnings are errors), with the host's cargo.

. "$(dirname "$0")/common.sh"

command -v cargo >/dev/null || die "cargo is needed for the core tests"
for crate in rust/core rust/sim; do
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
