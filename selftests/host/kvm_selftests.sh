#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run the upstream KVM selftests shipped in /kselftest in L1 (TAP).
. /tests/ktap.sh

tests=$(cd /kselftest && find . -type f -perm -u+x | sed 's|^\./||' | sort)
n=$(echo "$tests" | wc -w)
ktap_plan "$n"
[ -e /dev/kvm ] || echo "# /dev/kvm missing: KVM did not initialise in L1"
for t in $tests; do
	echo "# running $t"
	timeout -k 5 "${KSFT_TIMEOUT:-300}" "/kselftest/$t" >/tmp/ksft.out 2>&1
	rc=$?
	sed 's/^/# /' /tmp/ksft.out | tail -n 20
	case $rc in
	0) ktap_ok "$t" ;;
	4) ktap_fail "$t (skipped: the test could not run)" ;;
	*) ktap_fail "$t (exit $rc)" ;;
	esac
done
ktap_finish
