# SPDX-License-Identifier: GPL-2.0
# Helpers for guest tests: TAP output, counters from the nested host.
# Source from a test: . /tests/ktap.sh

# The harness's settings for this guest (NESTED, test variables).
. /etc/harness.conf

KTAP_PASS=0
KTAP_FAIL=0
KTAP_SKIP=0
KTAP_N=0

KTAP_PLANNED=0
ktap_plan() { echo "TAP version 13"; echo "1..$1"; KTAP_PLANNED=1; }
# For tests whose count is known only at the end: header now, plan at the end.
ktap_header() { echo "TAP version 13"; }
ktap_ok() { KTAP_N=$((KTAP_N + 1)); KTAP_PASS=$((KTAP_PASS + 1)); echo "ok $KTAP_N $*"; }
ktap_fail() { KTAP_N=$((KTAP_N + 1)); KTAP_FAIL=$((KTAP_FAIL + 1)); echo "not ok $KTAP_N $*"; }
ktap_skip() { KTAP_N=$((KTAP_N + 1)); KTAP_SKIP=$((KTAP_SKIP + 1)); echo "ok $KTAP_N # SKIP $*"; }
# ktap_check DESCRIPTION COMMAND...: ok if the command succeeds.
ktap_check() {
	d=$1
	shift
	if "$@"; then ktap_ok "$d"; else ktap_fail "$d"; fi
}
# ktap_sleep SECS: sleep, saying every 30 s that the test is still running
# (the nested harness ends an L2 that stays silent, see guest-init.sh).
ktap_sleep() {
	left=$1
	while [ "$left" -gt 30 ]; do
		sleep 30
		left=$((left - 30))
		echo "# running, ${left}s left"
	done
	sleep "$left"
}
ktap_finish() {
	[ "$KTAP_PLANNED" = 1 ] || echo "1..$KTAP_N"
	echo "# totals: pass:$KTAP_PASS fail:$KTAP_FAIL skip:$KTAP_SKIP"
	[ "$KTAP_FAIL" = 0 ]
	exit $?
}

# Ask the nested host for KVM's counters of this VM; prints "name=value"
# words, or nothing when not running nested; waits for L1's answer.  Each
# request has a number that L1's answer repeats, and answers to other
# requests are skipped: an answer L1 sent to an L2 that died before
# reading it stays in L1's pipe to the console, and the next L2 reads it
# first (seen once as negative counts in the first row of an exits test
# after an L2 restart).
l1_counters() {
	. /etc/harness.conf
	[ "${NESTED:-0}" = 1 ] || return 0
	seq=$(($(cat /tmp/l1_counters.seq 2>/dev/null || echo 0) + 1))
	echo "$seq" >/tmp/l1_counters.seq
	# Unique across L2 boots, not only within one.
	id=$(cut -c1-8 /proc/sys/kernel/random/boot_id).$seq
	echo "@@COUNTERS $id@@" >/dev/console
	while IFS= read -r -t 60 ans </dev/console; do
		case "$ans" in
		*"ack $id "*)
			echo "${ans#*ack $id }"
			return 0 ;;
		esac
	done
	return 1
}
# counter NAME WORDS...: the value of NAME in l1_counters output.
counter() {
	n=$1
	shift
	for w in "$@"; do
		case "$w" in "$n"=*) echo "${w#*=}"; return ;; esac
	done
	echo 0
}
