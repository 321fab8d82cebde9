#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Judge one harness console log: every expected test reported status 0, the
# run got to the end, and no kernel reported a panic, oops, warning, lockdep
# splat, stall or CSD-lock timeout.  Prints one line per test with its TAP
# counts.  Usage: summary.sh MODE LOG "GUEST_TESTS" "HOST_TESTS"

MODE=$1 LOG=$2 GUEST_TESTS=$3 HOST_TESTS=$4
. "$(dirname "$0")/kernel-trouble.sh"
fail=0 skipped=0 EARLIER=

# $1 = level label, $2 = line prefix in the log, $3 = test name
judge() {
	local lvl=$1 pfx=$2 t=$3 res ok nok
	res=$(grep -a -F "$pfx@@RESULT $t " "$LOG" | tail -n1 | sed -E 's/.*@@RESULT [^ ]+ ([0-9]+)@@.*/\1/')
	read -r ok nok < <(awk -v s="$pfx@@START $t@@" -v e="$pfx@@RESULT $t " -v p="$pfx" '
		index($0, s) { on = 1; next }
		index($0, e) { on = 0 }
		on && index($0, p) == 1 {
			l = substr($0, length(p) + 1)
			if (l ~ /^ *not ok /) n++; else if (l ~ /^ *ok /) o++
		}
		END { print o + 0, n + 0 }' "$LOG")
	if [ "$res" = 0 ]; then
		printf '  %-3s %-28s pass  (%d ok, %d not ok)\n' "$lvl" "$t" "$ok" "$nok"
	else
		printf '  %-3s %-28s FAIL  (status %s, %d ok, %d not ok)\n' "$lvl" "$t" "${res:-missing}" "$ok" "$nok"
		grep -a -F "$pfx" "$LOG" | grep -a -E '^(L2\| )? *not ok ' | sed 's/^/      /' | head -20
		fail=1
	fi
}

echo "== $(basename "$LOG" .log) ($MODE) =="
if grep -a -q -E '^@@HARNESS (guest hung while booting \(attempt|L1 reboot|guest died under emulation)' "$LOG"; then
	# The guest was booted more than once (scripts/vm.sh).  A boot that
	# never reached init (boot watchdog) ran no test and no module code:
	# it is reported and dropped.  A boot after which L1 asked to be
	# booted again, before starting L2 (a TSC rate KVM cannot give L2,
	# see scripts/guest-init.sh), is reported and what L1 printed in it
	# is still scanned for kernel errors (its host tests ran there, and
	# run again).  A boot that died under the emulator (vm.sh: a CPU
	# that stopped answering NMIs, L1's stack overflowing while L2 ran)
	# is reported; what it printed before L1's first stall report or
	# stack overflow, L1's and L2's alike, is scanned for kernel errors,
	# and none of its tests count (they run again).  The last boot is judged whole.  If every
	# boot hung, no test reported: a failure.
	grep -a -E '^@@HARNESS (guest hung|L1 reboot|guest died under emulation)' "$LOG" | sed 's/^@@HARNESS /  harness: /; s/@@$//'
	EARLIER=$2.earlier
	: >"$EARLIER"
	awk -v earlier="$EARLIER" '
		/^@@HARNESS guest hung while booting \(attempt/ { n = 0; next }
		/^@@HARNESS L1 reboot/ {
			for (i = 1; i <= n; i++) if (buf[i] !~ /^L2\| /) print buf[i] >>earlier
			print >>earlier
			n = 0
			next
		}
		/^@@HARNESS guest died under emulation/ {
			for (i = 1; i <= n; i++) {
				if (buf[i] ~ /rcu: INFO|rcu_sched detected stalls|stack guard page was hit/ && buf[i] !~ /^L2\| /) break
				print buf[i] >>earlier
			}
			print >>earlier
			n = 0
			next
		}
		{ buf[++n] = $0 }
		END { for (i = 1; i <= n; i++) print buf[i] }' "$LOG" >"$LOG.booted"
	LOG=$LOG.booted
fi
if [ "$MODE" = nested ] && grep -a -q '^@@HARNESS L2 died under emulation' "$LOG"; then
	# Earlier L2 attempts died under the emulator (see
	# scripts/guest-init.sh), which is reported, not hidden.  Of each, keep
	# what it printed up to its last passed test: those tests count, and
	# their output is scanned for kernel errors like the rest.  The last
	# attempt is judged whole.
	grep -a '^@@HARNESS L2 died' "$LOG" | sed 's/^@@HARNESS /  harness: /; s/@@$//'
	awk '
		function flush(upto,   i) { for (i = 1; i <= upto; i++) print buf[i]; n = 0; keep = 0 }
		/^@@L2 starting/ { flush(keep); print; next }
		/^L2\| / { buf[++n] = $0; if ($0 ~ /^L2\| @@RESULT [^ ]+ 0@@/) keep = n; next }
		{ print }
		END { flush(n) }' "$LOG" >"$LOG.judged"
	LOG=$LOG.judged
fi
if [ "$MODE" = nested ]; then
	for t in $HOST_TESTS; do judge L1 "" "$t"; done
	if grep -a -q '^@@HARNESS L2 unusable under emulation' "$LOG"; then
		# Every L2 died the way only the emulator kills it: the L2 tests
		# did not run, which is reported as skipped, never as passed.
		grep -a '^@@HARNESS L2 unusable' "$LOG" | sed 's/^@@HARNESS /  SKIPPED L2 tests: /; s/@@$//'
		skipped=1
	else
		grep -a '^@@HARNESS L2 could not start' "$LOG" | sed 's/^@@HARNESS /  /; s/@@$//'
		for t in $GUEST_TESTS; do judge L2 "L2| " "$t"; done
		grep -a -q '^L2| @@DONE@@' "$LOG" || { echo "  L2 did not finish its run"; fail=1; }
	fi
else
	for t in $GUEST_TESTS; do judge L1 "" "$t"; done
fi
if ! grep -a -q '^@@DONE@@' "$LOG"; then
	echo "  the guest did not finish its run"
	grep -a '^@@HARNESS guest ended early' "$LOG" | sed 's/^@@HARNESS /  /; s/@@$//'
	fail=1
fi

if [ "${skipped:-0}" = 1 ]; then
	grep -a -v '^L2| ' "$LOG" >"$LOG.l1"
	LOG=$LOG.l1
fi
bad="$KERNEL_TROUBLE|@@HARNESS timeout|@@HARNESS stopped"
if grep -a -Eq "$bad" "$LOG"; then
	echo "  kernel trouble in the log:"
	grep -a -En "$bad" "$LOG" | head -10 | sed 's/^/      /'
	# The first report whole (its call trace says where it came from),
	# as far as 40 lines.
	first=$(grep -a -En "$bad" "$LOG" | head -n1 | cut -d: -f1)
	echo "  the first report, from line $first:"
	sed -n "$first,$((first + 39))p" "$LOG" | sed 's/^/      /'
	fail=1
fi
if [ -n "$EARLIER" ] && grep -a -Eq "$bad" "$EARLIER"; then
	echo "  kernel trouble in L1's earlier boots:"
	grep -a -En "$bad" "$EARLIER" | head -10 | sed 's/^/      /'
	fail=1
fi
if [ $fail != 0 ]; then
	echo "  last lines of the log:"
	tail -n 15 "$LOG" | sed 's/^/      /'
	exit 1
fi
# 3: nothing failed, but the L2 tests could not run (see above).
[ "${skipped:-0}" = 0 ] || exit 3
exit 0
