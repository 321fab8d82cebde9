# SPDX-License-Identifier: GPL-2.0
#
# ipi_steer: user-facing targets.  Kbuild reads ./Kbuild, not this file.
#
#   make            build ipi_steer.ko against the cached test kernel
#   make run        nested KVM pair: load ipi_steer in L2, run an IPI workload,
#                   print the transport per IPI kind and exits per IPI
#   make check      every test: cargo tests, module builds, guest tests under
#                   TCG and in nested L2, KVM selftests in L1
#   make soak       long reliability runs: make soak DURATION=<minutes>
#   make kvm-compare  upstream KVM selftests in L1 without and with the host
#                   patches, side by side
#   make core-test  only the userspace tests of the shared core
#   make clean      remove build/ (the cache stays; see README)

SHELL := /bin/bash

.PHONY: all module toolchain kernel kselftests core-test intree run check soak kvm-compare clean

all: module

module:
	@scripts/module.sh

toolchain:
	@scripts/toolchain.sh

kernel:
	@scripts/kernel.sh

kselftests:
	@scripts/kselftests.sh

core-test:
	@scripts/core-test.sh

intree:
	@scripts/intree.sh

run:
	@scripts/run.sh

check:
	@scripts/check.sh

soak:
	@DURATION=$(DURATION) scripts/soak.sh

kvm-compare:
	@scripts/kvm-compare.sh

clean:
	rm -rf build
