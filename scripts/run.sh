#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make run: build whatever is missing, boot the nested pair (L1 = KVM host
# under TCG, L2 = KVM guest with IPI_STEER_RUN_SMP vCPUs, default 4), load
# ipi_steer in L2, run a short IPI workload and print, per IPI kind and
# target count, the x2APIC ICR writes and hypercalls per IPI that L1's KVM
# counted: for the kernel's own paths and for ipi_steer in each mode.
#
# L2 runs Debian's stock cloud kernel (what users run) with ipi_steer built
# for it by scripts/stock.sh; IPI_STEER_RUN_KERNEL=test runs the project's
# test kernel instead.

. "$(dirname "$0")/common.sh"

SMP=${IPI_STEER_RUN_SMP:-4}
rc=0
"$TOP/scripts/vm.sh" --mode nested --name run --smp "$SMP" \
	--guest-kernel "${IPI_STEER_RUN_KERNEL:-stock}" \
	--env EXITS_OPS=100 --guest-test exits --timeout 1800 || rc=$?
LOG=$TOP/build/logs/run.log
echo
grep -aE '^L2\| # (\||exits per)' "$LOG" | sed 's/^L2| # //'
grep -aE '^L2\| .*Linux version' "$LOG" | head -n1 | sed 's/^L2| \[[^]]*\] //; s/ (.*//'
grep -aE '^L2\| .*ipi_steer: loaded' "$LOG" | head -n1 | sed 's/^L2| \[[^]]*\] //'
exit $rc
