#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Compare the exits tables of nested runs with what the cost model
# predicts for the same guest:
#
#   scripts/exits-predict.sh build/logs/nested.log [LOG...]
#
# For each log, takes L2's APIC ids and the costs the exits test pinned
# (both printed by selftests/guest/exits.sh), runs ipi-predict (rust/sim)
# for them and compares every cell: the measured ICR writes and hypercalls
# per operation, rounded to the nearest whole number, must equal the
# predicted ones.  The measured figures differ from whole numbers by the
# sender's other IPIs during a row (its shell, scheduler kicks: up to about
# 0.4 above) and by the odd operation whose target already had an IPI
# pending (the kernel then sends none: a little below).  Prints every cell
# and the largest deviation; exit status 1 on any mismatch.

. "$(dirname "$0")/common.sh"

[ $# -ge 1 ] || die "usage: $0 LOG..."
command -v cargo >/dev/null || die "cargo is needed to build rust/sim's ipi-predict"
(cd "$TOP/rust/sim" && cargo build --quiet --release --bin ipi-predict) ||
	die "building ipi-predict failed"
PREDICT=$TOP/rust/sim/target/release/ipi-predict

bad=0
for log in "$@"; do
	[ -f "$log" ] || die "no log $log"
	ids=$(sed -n 's/^L2| # APIC ids: //p' "$log" | tail -n1 | xargs | tr ' ' ',')
	costs=$(sed -n 's/^L2| # costs: //p' "$log" | tail -n1 |
		tr ';' '\n' | awk 'NF == 3 { printf "%s%s=%s/%s", sep, $1, $2, $3; sep = "," }')
	[ -n "$ids" ] || die "$log: no APIC ids (from the exits test)"
	[ -n "$costs" ] || die "$log: no pinned costs (from the exits test)"
	echo "== $(basename "$log" .log): APIC ids $ids, costs $costs"
	measured=$(grep -aE '^L2\| # \|' "$log" | sed 's/^L2| # //' | awk -F'|' '
		/\| kind \|/ { for (i = 4; i < NF; i++) { h = $i; gsub(/ \(icr\+hc\)| /, "", h); col[i] = h }; next }
		/^\|---/ { next }
		{
			kind = $2; k = $3; gsub(/ /, "", kind); gsub(/ /, "", k)
			for (i = 4; i < NF; i++) {
				if (!(i in col) || match($i, /\(([0-9.]+)\+([0-9.]+)\)/) == 0) continue
				split(substr($i, RSTART + 1, RLENGTH - 2), p, "+")
				print kind "," k "," col[i] "," p[1] "," p[2]
			}
		}')
	[ -n "$measured" ] || die "$log: no exits table"
	"$PREDICT" --apic-ids "$ids" --costs "$costs" >"$TOP/build/predicted.csv" ||
		die "ipi-predict failed for $log"
	awk -F, -v name="$(basename "$log" .log)" '
		function abs(x) { return x < 0 ? -x : x }
		function near(x) { return int(x + 0.5) }
		NR == FNR { if (FNR > 1) { pi[$1 "," $2 "," $3] = $4; ph[$1 "," $2 "," $3] = $5 }; next }
		{
			key = $1 "," $2 "," $3
			if (!(key in pi)) { printf "MISSING %s: no prediction\n", key; bad++; next }
			ok = near($4) == pi[key] && near($5) == ph[key]
			d = abs($4 - pi[key]); if (abs($5 - ph[key]) > d) d = abs($5 - ph[key])
			if (d > maxd) maxd = d
			n++
			if (!ok) bad++
			printf "%-4s %-7s k=%-3s %-10s predicted %d+%d  measured %.2f+%.2f\n",
				ok ? "ok" : "DIFF", $1, $2, $3, pi[key], ph[key], $4, $5
		}
		END {
			printf "%s: %d cells, %d differ from the prediction; largest deviation %.2f per operation\n",
				name, n, bad, maxd
			exit bad > 0
		}' "$TOP/build/predicted.csv" <(echo "$measured") || bad=1
done
exit $bad
