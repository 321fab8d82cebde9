#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Every knob under /sys/kernel/ipi_steer with valid, invalid and boundary
# values: valid writes take effect, invalid ones fail and change nothing.
. /tests/ktap.sh

K=/sys/kernel/ipi_steer
ktap_header
ktap_check "insmod ipi_steer" insmod /lib/modules/ipi_steer.ko
for a in mode features costs stats reset calibration; do
	ktap_check "$a exists" test -e $K/$a
done
ktap_check "features is read-only" sh -c "! echo x >$K/features 2>/dev/null"
ktap_check "stats is read-only" sh -c "! echo 1 >$K/stats 2>/dev/null"

snapshot() { cat $K/mode $K/costs; }
# reject VALUE FILE: the write fails and mode and costs are unchanged.
reject() {
	before=$(snapshot)
	if printf '%s' "$1" >"$K/$2" 2>/dev/null; then
		ktap_fail "$2: '$1' was accepted"
	elif [ "$(snapshot)" != "$before" ]; then
		ktap_fail "$2: '$1' was rejected but changed the state"
	else
		ktap_ok "$2: '$1' rejected, nothing changed"
	fi
}
# accept VALUE FILE EXPECT: the write succeeds and FILE then contains EXPECT.
accept() {
	if printf '%s' "$1" >"$K/$2" 2>/dev/null &&
		{ [ -z "$3" ] || grep -qF -- "$3" "$K/$2"; }; then
		ktap_ok "$2: '$1' accepted"
	else
		ktap_fail "$2: '$1' (now: $(tr '\n' ';' <"$K/$2"))"
	fi
}

modes=$(tr -d '[]' <$K/mode)
for m in $modes; do accept "$m" mode "[$m]"; done
accept "auto
" mode "[auto]"
for v in " " "bogus" "AUTO" "auto x2apic" "xapic" "tdvmcall" "posted" \
	"$(printf 'auto\001')" "$(printf '\377\376')" "$(head -c 300 /dev/zero | tr '\0' a)"; do
	reject "$v" mode
done
grep -q pv_send_ipi $K/features || reject "hypercall" mode

t=$(head -n1 $K/costs | cut -d' ' -f1)
accept "$t 1000 20" costs "$t 1000 20"
accept "$t 0 0" costs "$t 0 0"
accept "$t 1000000000 1000000000" costs "$t 1000000000 1000000000"
for v in "$t 1000000001 0" "$t 0 4294967296" "$t -1 0" "$t 10" "$t 1 2 3" \
	"$t a b" "nosuch 1 2" "xapic 1 2" " " "$t 0x10 0"; do
	reject "$v" costs
done
accept "$t 4238 0" costs "$t 4238 0"

# Calibration: at load it ran (ok, or an error saying why); on demand a
# write of "1" recalibrates (success, or EAGAIN for noisy samples).
echo "# $(head -n1 $K/calibration)"
ktap_check "calibration ran at load" sh -c "grep -q '^status: \(ok\|error\)' $K/calibration"
if echo 1 >$K/calibration 2>/tmp/err || grep -qi 'temporarily unavailable\|try again' /tmp/err; then
	ktap_ok "calibration on demand: $(head -n1 $K/calibration)"
else
	ktap_fail "calibration on demand: $(cat /tmp/err)"
fi
ktap_check "calibration reports medians" grep -q '^median x2apic 1 targets' $K/calibration

# The host's hint (KVM_HC_IPI_ACCEL_INFO): a nested L2 whose L1 runs the
# host patches gets an answer, and its costs come from it; elsewhere
# there is none.
hint=$(sed -n 's/^host_accel: //p' $K/features)
from=$(sed -n 's/^costs from: //p' $K/calibration)
echo "# host_accel: $hint; costs from: $from"
if [ "${EXPECT_HOST_HINT:-0}" = 1 ]; then
	ktap_check "features: the host's answer ($hint)" sh -c \
		"echo '$hint' | grep -Eq '^(none|ipiv|avic|x2avic) \(host hint, generation [0-9]+\)\$'"
	ktap_check "costs from the host's answer ($from)" sh -c "echo '$from' | grep -q '^host hint'"
else
	ktap_check "features: no host hint ($hint)" test "$hint" = "unknown (no host hint)"
	ktap_check "costs not from a host hint ($from)" sh -c "echo '$from' | grep -Eq '^(calibration|published table)\$'"
fi
for v in "0" "2" "yes" "1 1"; do
	reject "$v" calibration
done
ktap_check "stats lists the counters" grep -q '^hypercalls [0-9]' $K/stats
accept "1" reset ""
for v in "0" "2" " " "1 1" "yes"; do
	reject "$v" reset
done
ktap_check "rmmod ipi_steer" rmmod ipi_steer
ktap_check "knobs gone after rmmod" test ! -e $K
ktap_finish
