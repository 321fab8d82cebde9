#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# FUZZ_WRITES random, boundary and malformed writes to ipi_steer's knobs:
# first one writer, checking after every write that a rejected write changed
# nothing and an accepted one left a well-formed state; then three
# concurrent writers, checking the state is well formed at the end.
#
# The loops use shell builtins only (one fork per write at most, for the
# random bytes): forks are what costs in a nested guest under emulation,
# where 10,000 writes would otherwise take most of an hour.
. /tests/ktap.sh
set -f # the knobs' words ("[auto]") are not file patterns

N=${FUZZ_WRITES:-1000}
K=/sys/kernel/ipi_steer
ktap_header
ktap_check "insmod ipi_steer" insmod /lib/modules/ipi_steer.ko
read -r modes <$K/mode
modes=${modes//[\[\]]/}
read -r t _ <$K/costs

# pick: a knob in F and a candidate value: valid words, boundary numbers,
# or (C = 8) random bytes in /tmp/v$1.
pick() {
	case $((RANDOM % 3)) in 0) F=mode ;; 1) F=costs ;; *) F=reset ;; esac
	C=$((RANDOM % 12))
	case $C in
	0) set -- auto $modes; eval "V=\${$((RANDOM % $# + 1))}" ;;
	1) V="$t $RANDOM $RANDOM" ;;
	2) V="$t 1000000000 0" ;;
	3) V="$t 1000000001 0" ;;
	4) V="$t 0 4294967295" ;;
	5) V="$t -$RANDOM 1" ;;
	6) V=1 ;;
	7) V=$RANDOM ;;
	8) V="random bytes"; head -c $((RANDOM % 64 + 1)) /dev/urandom >/tmp/v$1 ;;
	9) V="xapic tdvmcall posted" ;;
	10) V="$t $RANDOM" ;;
	*) V="auto + empty line" ;;
	esac
}
# put: write the picked value to the picked knob, in one write().
put() {
	case $C in
	8) cat /tmp/v$1 >"$K/$F" ;;
	11) printf 'auto\n\n' >"$K/$F" ;;
	*) echo "$V" >"$K/$F" ;;
	esac
} 2>/dev/null

# The state of both knobs, in S.
snapshot() {
	S=
	while IFS= read -r l; do S="$S$l;"; done <$K/mode
	while IFS= read -r l; do S="$S$l;"; done <$K/costs
}
# Well formed: exactly one bracketed mode, every cost line "name n n".
well_formed() {
	local n=0 w l
	read -r l <$K/mode
	for w in $l; do
		case $w in
		\[*\])
			n=$((n + 1))
			w=${w#\[}
			case ${w%\]} in "" | *[!a-z0-9]*) return 1 ;; esac
			;;
		esac
	done
	[ $n = 1 ] || return 1
	while IFS= read -r l; do
		case $l in "" | " "* | *" " | *"  "*) return 1 ;; esac
		set -- $l
		[ $# = 3 ] || return 1
		case $1 in *[!a-z0-9]*) return 1 ;; esac
		case $2 in *[!0-9]*) return 1 ;; esac
		case $3 in *[!0-9]*) return 1 ;; esac
	done <$K/costs
}

i=0 rejected=0 accepted=0 broken=0
while [ $i -lt "$N" ]; do
	pick
	snapshot
	before=$S
	if put; then
		accepted=$((accepted + 1))
		well_formed || { broken=$((broken + 1)); echo "# broken after $F <- $V"; }
	else
		rejected=$((rejected + 1))
		snapshot
		[ "$S" = "$before" ] ||
			{ broken=$((broken + 1)); echo "# changed by rejected $F <- $V: $before -> $S"; }
	fi
	i=$((i + 1))
	# Say so now and then: the nested harness ends an L2 that stays
	# silent (see guest-init.sh).
	[ $((i % 500)) != 0 ] || echo "# $i writes so far"
done
echo "# single writer: $N writes, $accepted accepted, $rejected rejected"
ktap_check "single writer: $N writes ($accepted accepted, $rejected rejected), $broken broken" \
	test "$broken" = 0 -a "$rejected" -gt 0 -a "$accepted" -gt 0

fuzz() {
	j=0
	while [ $j -lt "$1" ]; do
		pick "$2"
		put "$2"
		j=$((j + 1))
		[ "$2" != 3 ] || [ $((j % 500)) != 0 ] || echo "# writer 3: $j writes so far"
	done
}
fuzz $((N / 3)) 1 & p1=$!
fuzz $((N / 3)) 2 & p2=$!
fuzz $((N / 3)) 3
wait $p1 $p2
ktap_check "three concurrent writers ($((N / 3)) writes each): state well formed" well_formed
ktap_check "rmmod ipi_steer" rmmod ipi_steer
ktap_finish
