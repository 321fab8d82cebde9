#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Compare the exits tables of two nested runs (selftests/guest/exits.sh),
# e.g. ipi_steer in Debian's stock kernel against ipi_steer in the test
# kernel:
#
#   scripts/exits-compare.sh build/logs/nested.log build/logs/nested-stock.log
#
# For every row (IPI kind, target count) and column (stock, auto, each
# forced transport) in both tables, the ICR writes and the hypercalls per
# operation must agree within TOLERANCE (default 0.6): a different choice of
# transport changes a row by at least one exit per operation, while the
# background noise of a row (the sender's own other IPIs) stays below
# 0.4.  Prints both values of every cell; exit status 1 on a mismatch or
# when the tables share no cell.

. "$(dirname "$0")/common.sh"

[ $# = 2 ] || die "usage: $0 LOG_A LOG_B"
TOL=${TOLERANCE:-0.6}

# Rows "kind k column icr hc" from the markdown table in a log.
cells() {
	grep -aE '^L2\| # \|' "$1" | sed 's/^L2| # //' | awk -F'|' '
		/\| kind \|/ { for (i = 4; i < NF; i++) { h = $i; gsub(/ \(icr\+hc\)| /, "", h); col[i] = h }; next }
		/^\|---/ { next }
		{
			kind = $2; k = $3; gsub(/ /, "", kind); gsub(/ /, "", k)
			for (i = 4; i < NF; i++) {
				if (!(i in col)) continue
				v = $i
				if (match(v, /\(([0-9.]+)\+([0-9.]+)\)/) == 0) continue
				split(substr(v, RSTART + 1, RLENGTH - 2), p, "+")
				print kind, k, col[i], p[1], p[2]
			}
		}'
}

a=$(cells "$1")
b=$(cells "$2")
[ -n "$a" ] || die "no exits table in $1"
[ -n "$b" ] || die "no exits table in $2"
awk -v tol="$TOL" -v A="$(basename "$1" .log)" -v B="$(basename "$2" .log)" '
	function abs(x) { return x < 0 ? -x : x }
	NR == FNR { icr[$1 " " $2 " " $3] = $4; hc[$1 " " $2 " " $3] = $5; next }
	{
		key = $1 " " $2 " " $3
		if (!(key in icr)) next
		n++
		ok = abs(icr[key] - $4) <= tol && abs(hc[key] - $5) <= tol
		if (!ok) bad++
		printf "%-4s %-7s k=%-3s %-10s %s %.2f+%.2f  %s %.2f+%.2f\n", ok ? "ok" : "DIFF",
			$1, $2, $3, A, icr[key], hc[key], B, $4, $5
	}
	END {
		if (n == 0) { print "the two tables share no cell"; exit 1 }
		printf "%d cells compared (icr+hc per operation), %d differ by more than %s\n", n, bad, tol
		exit bad > 0
	}' <(echo "$a") <(echo "$b")
