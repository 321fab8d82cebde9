#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Injected hypercall failures (fault_hypercall knob of the test build): with
# every Nth KVM_HC_SEND_IPI refused by the host, or reaching one vCPU fewer
# than asked, every IPI is still delivered, the counters show the faults
# and the fallbacks, and scftorture stays clean.  Needs a host that offers
# KVM_HC_SEND_IPI (nested L2).
. /tests/ktap.sh
. /tests/traffic.sh
. /tests/scf.sh

OPS=${FAULT_OPS:-20}
SECS=${TORTURE_SECS:-10}
n=$(nproc)
K=/sys/kernel/ipi_steer
F=$K/fault_hypercall
ktap_header
traffic_load
ktap_check "insmod ipi_steer" insmod /lib/modules/ipi_steer.ko
if ! grep -q pv_send_ipi $K/features; then
	ktap_skip "the host offers no KVM_HC_SEND_IPI: nothing to inject"
	rmmod ipi_steer
	ktap_finish
fi
ktap_check "fault_hypercall exists in the test build" test -e $F
ktap_check "fault_hypercall is off after load" grep -qx off $F

injected() { sed -n 's/^injected //p' $F; }
# snap: the counters, read once, after the armed fault is off and every
# hypercall in flight has returned (counted faults then equal injected).
snap() { sleep 1; cat $K/stats >/tmp/stats; }
stat() { sed -n "s/^$1 //p" /tmp/stats; }

# Invalid settings are refused and leave the knob as it was.
echo "fail 7" >$F
for v in "
" "on" "fail" "fail 0" "fail -1" "fail 1000001" "fail x" \
	"partial 2 3" "off 1" "FAIL 1"; do
	if printf '%s' "$v" >$F 2>/dev/null; then
		ktap_fail "fault_hypercall: '$v' was accepted"
	elif ! grep -qx "fail 7" $F; then
		ktap_fail "fault_hypercall: '$v' was rejected but changed the setting"
	else
		ktap_ok "fault_hypercall: '$v' rejected, nothing changed"
	fi
done
echo off >$F

# traffic_all LABEL: call-function IPIs to 1..N-1 targets; all delivered.
traffic_all() {
	k=1
	bad=
	while [ $k -lt "$n" ]; do
		for kind in resched single many; do
			r=$(traffic "$kind" "$OPS" "$(targets_of $k)")
			s=$(field sent "$r") h=$(field handled "$r") l=$(field lost "$r")
			[ -n "$s" ] && [ "$s" = $((OPS * k)) ] && [ "$h" = "$s" ] && [ "$l" = 0 ] ||
				bad="$bad [$r]"
		done
		k=$((k + 1))
	done
	if [ -z "$bad" ]; then
		ktap_ok "$1: every IPI delivered"
	else
		ktap_fail "$1: $bad"
	fi
}

for mode in hypercall auto; do
	echo $mode >$K/mode
	for fault in "fail 1" "fail 3" "partial 1" "partial 3"; do
		what="$mode, $fault"
		echo 1 >$K/reset
		ktap_check "$what: armed" sh -c "echo '$fault' >$F"
		traffic_all "$what"
		echo off >$F
		snap
		hc=$(stat hypercalls) err=$(stat hypercall_errors)
		part=$(stat hypercall_partial) fb=$(stat fallback_icr)
		inj=$(injected)
		echo "# $what: hypercalls=$hc injected=$inj errors=$err partial=$part fallback_icr=$fb"
		# Forced hypercall mode sends everything by hypercall, so
		# faults must have been injected; auto mode only some.
		[ $mode = auto ] || ktap_check "$what: faults injected" test "$inj" -gt 0
		case $fault in
		fail*) ktap_check "$what: each injected failure counted ($inj = $err), none partial" \
			test "$err" = "$inj" -a "$part" = 0 ;;
		partial*) ktap_check "$what: each injected partial delivery counted ($inj = $part), none failed" \
			test "$part" = "$inj" -a "$err" = 0 ;;
		esac
		ktap_check "$what: the faulted windows went out by ICR ($fb targets)" test "$fb" -ge "$inj"
	done
done

# scftorture with every third hypercall refused, then every third partial.
echo hypercall >$K/mode
for fault in "fail 3" "partial 3"; do
	echo 1 >$K/reset
	echo "$fault" >$F
	ktap_check "scftorture, $fault: starts" scf_start
	ktap_sleep "$SECS"
	ktap_check "scftorture ${SECS}s, $fault: SUCCESS" scf_stop
	echo off >$F
	snap
	echo "# scftorture, $fault: injected=$(injected) $(grep -E '^(hypercalls|hypercall_errors|hypercall_partial|fallback_icr) ' /tmp/stats | tr '\n' ' ')"
	ktap_check "scftorture, $fault: faults were injected" test "$(injected)" -gt 0
	case $fault in
	fail*) ktap_check "scftorture, $fault: each counted" test "$(stat hypercall_errors)" = "$(injected)" ;;
	partial*) ktap_check "scftorture, $fault: each counted" test "$(stat hypercall_partial)" = "$(injected)" ;;
	esac
done
echo 1 >$K/reset
traffic_all "hypercall, fault off again"
snap
ktap_check "fault off: no hypercall errors or partials" \
	test "$(stat hypercall_errors)" = 0 -a "$(stat hypercall_partial)" = 0
echo auto >$K/mode
ktap_check "rmmod ipi_steer" rmmod ipi_steer
ktap_finish
