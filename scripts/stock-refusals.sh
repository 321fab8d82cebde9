#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The stock-kernel build path must refuse, before compiling anything, to
# build a module that would not load: a release other than the pinned
# linux-source's version, a flavour Debian does not ship, and a compiler
# other than the one the kernel was built with.  Each case must fail with
# a message naming the difference.  Prints TAP.

. "$(dirname "$0")/common.sh"

n=0 bad=0
# refuse DESCRIPTION PATTERN COMMAND...: COMMAND fails, saying PATTERN.
refuse() {
	local what=$1 pattern=$2 out rc=0
	shift 2
	n=$((n + 1))
	out=$("$@" 2>&1) || rc=$?
	if [ $rc = 0 ]; then
		echo "not ok $n $what: was NOT refused"
		bad=1
	elif ! grep -Eq "$pattern" <<<"$out"; then
		echo "not ok $n $what: refused, but without saying /$pattern/:"
		sed 's/^/# /' <<<"$out" | tail -n 5
		bad=1
	else
		echo "ok $n $what: refused"
		grep -E '^error:' <<<"$out" | head -n 3 | sed 's/^/# /'
	fi
}
# built RELEASE: nothing may have been built for a refused release.
built() {
	n=$((n + 1))
	if [ -e "$TOP/build/stock/$1" ]; then
		echo "not ok $n nothing built for $1"
		bad=1
	else
		echo "ok $n nothing built for $1"
	fi
}

echo "TAP version 13"
echo "1..7"
refuse "another Linux version (7.3.5)" "is not Linux $KERNEL_VERSION" \
	"$TOP/scripts/stock.sh" 7.3.5+deb13-cloud-amd64
built 7.3.5+deb13-cloud-amd64
refuse "not a Debian release string" "is not a Debian 13 kernel release" \
	"$TOP/scripts/stock.sh" 7.3.4-cloud
built 7.3.4-cloud
refuse "a flavour Debian does not ship" "Debian has no package linux-headers-$KERNEL_VERSION\+deb13-nosuch-amd64" \
	"$TOP/scripts/stock.sh" "$KERNEL_VERSION+deb13-nosuch-amd64"
built "$KERNEL_VERSION+deb13-nosuch-amd64"

# A rustc that works but reports another version: the crate hashes would
# differ and the module would fail at insmod, so the build must stop.
fake=$TOP/build/stock-refusals/rustc
mkdir -p "$(dirname "$fake")"
cat >"$fake" <<'EOF'
#!/bin/sh
if [ "$1" = --version ]; then
	echo "rustc 1.85.0 (4d91de4e4 2025-02-17) (a deliberately different compiler)"
	exit 0
fi
exec rustc "$@"
EOF
chmod +x "$fake"
refuse "a different rustc" "rustc .* differs from the one Debian built" \
	env IPI_STEER_STOCK_RUSTC="/src/${fake#"$TOP"/}" "$TOP/scripts/stock.sh"
rm -rf "$TOP/build/stock-refusals"

[ "$bad" = 0 ] && echo "# all $n refused" && exit 0
exit 1
