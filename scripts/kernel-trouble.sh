# SPDX-License-Identifier: GPL-2.0
# Source, don't execute.  What a kernel prints when something went wrong:
# any of these in a guest's console (other than lines of an L2 attempt
# that died under the emulator, see scripts/summary.sh) fails the run.
# scripts/vm.sh also ends a guest soon after one appears.
# shellcheck disable=SC2034
KERNEL_TROUBLE='Kernel panic|BUG: |WARNING: |Oops|Call Trace:|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|soft lockup|hung_task|rcu_sched detected stalls|rcu: INFO|self-detected stall|Detected non-responsive CSD lock|csd: CSD lock'
