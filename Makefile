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
#   make bench      exits and costs per IPI kind, target count and mode,
#                   kernel against ipi_steer, several topologies, with the
#                   model's prediction (ACCEL=kvm: L1 on real KVM)
#   make kvm-compare  upstream KVM selftests in L1 without and with the host
#                   patches, side by side
#   make core-test  only the userspace tests of the shared core
#   make stock      build ipi_steer.ko for Debian's stock kernel
#                   (RELEASE=7.3.4+deb13-cloud-amd64 by default) and the
#                   headers overlay for it, into build/stock/RELEASE/
#   make modules KDIR=/lib/modules/$(uname -r)/build
#                   plain Kbuild build against an installed kernel tree
#                   (Debian: the headers package plus the overlay); no
#                   toolchain root involved
#   make modules_install KDIR=...   install that build (depmod included)
#   make install    on the target machine, as root: register the sources
#                   with DKMS (/usr/src/ipi_steer-VERSION), build and
#                   install for the running kernel (KERNEL=<release> for
#                   another); DKMS rebuilds it for later kernels
#   make uninstall  remove it from DKMS and /usr/src
#   make dkms-source DESTDIR=<dir>  only stage the DKMS source tree
#   make clean      remove build/ (the cache stays; see README)

SHELL := /bin/bash

.PHONY: all module toolchain kernel kselftests core-test intree run check soak bench kvm-compare \
	stock modules modules_install install uninstall dkms-source clean

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

bench:
	@IPI_STEER_ACCEL=$(or $(ACCEL),tcg) scripts/bench.sh

kvm-compare:
	@scripts/kvm-compare.sh

stock:
	@scripts/stock.sh $(RELEASE)

# Against a kernel tree given by the user: the compilers must be the ones
# that kernel was built with (Debian's headers package sets CC itself).
modules modules_install:
	@test -n "$(KDIR)" || { echo 'make $@ needs KDIR=<kernel build dir>, e.g. KDIR=/lib/modules/$$(uname -r)/build' >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) CONFIG_IPI_STEER=m $@

install:
	@scripts/dkms.sh install $(KERNEL)

uninstall:
	@scripts/dkms.sh remove

dkms-source:
	@scripts/dkms.sh source $(DESTDIR)

clean:
	rm -rf build
