#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build ipi_steer.ko for one of Debian's prebuilt 7.3 kernels.
#
#   scripts/stock.sh [RELEASE]     default: $STOCK_RELEASE from pins.env
#
# Debian builds these kernels with CONFIG_RUST=y, but its headers package
# carries no Rust metadata (rust/*.rmeta, the proc-macro libraries,
# scripts/target.json), so no out-of-tree Rust module can be built against
# it as shipped.  This script regenerates that metadata from the identical
# inputs -- the same linux-source, the flavour's .config, the same gcc,
# rustc, bindgen and pahole -- and proves the result identical to what
# Debian built before it builds anything against it:
#
#   - the compiler, bindgen and pahole versions equal the ones the kernel
#     records (CONFIG_*_VERSION_TEXT, CONFIG_PAHOLE_VERSION);
#   - olddefconfig leaves Debian's .config unchanged (also covers as/ld);
#   - the generated autoconf.h, utsrelease.h and rustc_cfg equal the
#     headers package's;
#   - the exported Rust symbols (crate hashes included) equal the _R*
#     entries of Debian's Module.symvers;
#   - the module's vermagic is the one in Debian's vmlinuz, and modpost
#     resolves every symbol against Debian's Module.symvers.
#
# Any difference stops the build with a message naming it.  The regenerated
# tree is cached; the modules land in build/stock/RELEASE/ (ipi_steer.ko,
# ipi_traffic.ko), beside headers-overlay.tar.gz: the metadata to add to
# the installed linux-headers package so that builds against
# /lib/modules/RELEASE/build work (see README, "Installing").  The overlay is
# tested here: the module is built a second time against a pristine copy of
# Debian's headers packages with only the overlay added.
#
# Prints build/stock/RELEASE on stdout.
#
# For the negative tests: IPI_STEER_STOCK_RUSTC names the rustc to use.

. "$(dirname "$0")/common.sh"

# The Debian version of the kernel packages: the same as linux-source.
DEB_VERSION=$(printf '%s\n' $PIN_PACKAGES | sed -n 's/^linux-source-[0-9.]*=//p')
ABI="$KERNEL_VERSION+deb13"

inner() {
	local R=$1 debs=$2 src=$3 obj=$4 out=$5
	local cc_pkg=(x86_64-linux-gnu-gcc-14) rustc=${IPI_STEER_STOCK_RUSTC:-rustc}
	local H=$debs/pkg/usr/src/linux-headers-$R

	# 1. Debian's packages for this release, by name and exact version.
	local pkgs="linux-headers-$R linux-headers-$ABI-common linux-kbuild-$ABI
		linux-binary-unsigned-$R" p
	mkdir -p "$debs"
	for p in $pkgs; do
		ls "$debs/${p}_"*.deb >/dev/null 2>&1 && continue
		log "downloading $p $DEB_VERSION"
		(cd "$debs" && apt-get download -q "$p=$DEB_VERSION" 2>&1 |
			grep -v -e '^Get:' -e 'unsandboxed' -e '^Fetched') || true
		ls "$debs/${p}_"*.deb >/dev/null 2>&1 ||
			die "Debian has no package $p version $DEB_VERSION: is $R a Debian kernel release?"
	done
	if [ ! -f "$debs/pkg/.complete" ]; then
		rm -rf "$debs/pkg"
		for p in "$debs"/*.deb; do dpkg-deb -x "$p" "$debs/pkg"; done
		touch "$debs/pkg/.complete"
	fi
	[ -f "$H/.config" ] || die "linux-headers-$R has no .config"
	grep -qxF "#define UTS_RELEASE \"$R\"" "$H/include/generated/utsrelease.h" ||
		die "linux-headers-$R is for release $(cut -d'"' -f2 "$H/include/generated/utsrelease.h"), not $R"

	# 2. The tools must be the ones Debian used, to the last character.
	cfg() { sed -n "s/^CONFIG_$1=\"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" "$H/.config"; }
	same() {
		[ "$2" = "$3" ] || die "$1 differs from the one Debian built $R with:
  kernel: $2
  here:   $3"
	}
	local cc
	cc=$(cfg CC_VERSION_TEXT)
	[ "${cc%% *}" = "${cc_pkg[0]}" ] ||
		die "$R was built with '${cc%% *}', this script knows ${cc_pkg[0]}"
	command -v "${cc_pkg[0]}" >/dev/null || die "${cc_pkg[0]} is not installed in the toolchain root"
	same "the C compiler" "$cc" "$("${cc_pkg[0]}" --version | head -n1)"
	same "rustc ($rustc)" "$(cfg RUSTC_VERSION_TEXT)" "$("$rustc" --version)"
	same bindgen "$(cfg BINDGEN_VERSION_TEXT)" "$(bindgen --version)"
	local ph
	ph=$(pahole --version | sed 's/^v//; s/\.//')
	same "pahole (as CONFIG_PAHOLE_VERSION)" "$(cfg PAHOLE_VERSION)" "$ph"

	local mk=(make -s -C "$src" O="$obj" CC="${cc_pkg[0]}" CROSS_COMPILE=x86_64-linux-gnu-
		RUSTC="$rustc" KERNELRELEASE="$R")

	# 3. The same source, configured exactly as Debian's .config.
	if [ ! -f "$src/.complete" ]; then
		log "extracting $KERNEL_TARBALL"
		rm -rf "$src.tmp"
		mkdir -p "$src.tmp"
		tar -xf "$KERNEL_TARBALL" -C "$src.tmp" --strip-components=1
		touch "$src.tmp/.complete"
		rm -rf "$src"
		mv "$src.tmp" "$src"
	fi
	if [ ! -f "$obj/.complete" ]; then
		rm -rf "$obj"
		mkdir -p "$obj"
		cp "$H/.config" "$obj/.config"
		"${mk[@]}" olddefconfig >/dev/null
		diff -u "$H/.config" "$obj/.config" >"$obj/config.diff" ||
			die "olddefconfig changed Debian's .config of $R (a tool differs):
$(head -n 40 "$obj/config.diff")"

		# 4. Regenerate the Rust metadata (all of rust/ in 7.3).
		log "make modules_prepare for $R"
		"${mk[@]}" -j"$(nproc)" modules_prepare >"$obj/prepare.log" 2>&1 || {
			tail -n 30 "$obj/prepare.log" >&2
			die "modules_prepare failed for $R"
		}
		local f
		for f in autoconf.h utsrelease.h rustc_cfg; do
			cmp -s "$H/include/generated/$f" "$obj/include/generated/$f" ||
				die "the regenerated include/generated/$f differs from Debian's"
		done

		# 5. Debian's symbol versions; the Rust exports must match them.
		cp "$H/Module.symvers" "$obj/Module.symvers"
		ln -sf "$H/vmlinux" "$obj/vmlinux"
		awk '$2 ~ /^_R/ { print $2 }' "$H/Module.symvers" | sort -u >"$obj/exports.debian"
		sed -n 's/^EXPORT_SYMBOL_RUST_GPL(\(_R.*\));$/\1/p' "$obj"/rust/exports_*_generated.h |
			sort -u >"$obj/exports.here"
		[ -s "$obj/exports.here" ] || die "no Rust exports were regenerated for $R"
		cmp -s "$obj/exports.debian" "$obj/exports.here" ||
			die "the regenerated Rust exports differ from Debian's Module.symvers:
$(diff "$obj/exports.debian" "$obj/exports.here" | head -n 10)"
		log "$R: config, generated headers and $(wc -l <"$obj/exports.here") Rust exports equal Debian's"
		touch "$obj/.complete"
	fi

	# 6. The production module (no KUnit, no fault injection) and the
	#    traffic generator the delivery tests load.
	local vermagic
	vermagic=$("$src/scripts/extract-vmlinux" "$debs/pkg/usr/lib/modules/$R/vmlinuz.unsigned" \
		2>/dev/null | strings | grep -m1 "^$R SMP ") ||
		die "no vermagic for $R in Debian's vmlinuz"
	build_one() { # $1 = kernel build dir, $2 = source dir, $3 = output dir
		mkdir -p "$3"
		"${mk[@]:0:2}" -C "$1" M="$2" MO="$3" CC="${cc_pkg[0]}" \
			CROSS_COMPILE=x86_64-linux-gnu- RUSTC="$rustc" KERNELRELEASE="$R" \
			CONFIG_IPI_STEER=m modules >"$3/build.log" 2>&1 || {
			cat "$3/build.log" >&2
			die "module build for $R failed in $2"
		}
		if grep -Eq 'warning:|error:' "$3/build.log"; then
			cat "$3/build.log" >&2
			die "the build of $2 for $R is not warning-free"
		fi
	}
	rm -rf "$out"
	mkdir -p "$out"
	build_one "$obj" /src "$out/module"
	build_one "$obj" /src/selftests/ipi_traffic "$out/ipi_traffic"
	local ko
	for ko in "$out/module/ipi_steer.ko" "$out/ipi_traffic/ipi_traffic.ko"; do
		same "the vermagic of $(basename "$ko")" "$vermagic" "$(modinfo -F vermagic "$ko")"
	done
	cp "$out/module/ipi_steer.ko" "$out/ipi_traffic/ipi_traffic.ko" "$out/"
	cp "$debs/pkg/usr/lib/modules/$R/vmlinuz.unsigned" "$out/vmlinuz"

	# 7. The overlay for the installed headers package, and its proof: a
	#    pristine copy of Debian's three headers packages at their real
	#    paths, plus the overlay, must build the module on its own
	#    (the Makefile there sets CC, so nothing is passed but M=).
	(cd "$obj" && tar -czf "$out/headers-overlay.tar.gz" --owner=0 --group=0 \
		rust/*.rmeta rust/*.so scripts/target.json)
	local sys=$out/dkms-root kb=/usr/lib/linux-kbuild-$ABI
	rm -rf "$sys"
	mkdir -p "$sys"
	for p in linux-headers-$R linux-headers-$ABI-common linux-kbuild-$ABI; do
		dpkg-deb -x "$debs/${p}_"*.deb "$sys"
	done
	tar -xzf "$out/headers-overlay.tar.gz" --keep-directory-symlink \
		-C "$sys/usr/src/linux-headers-$R"
	mount -t tmpfs -o size=16m stock "/usr/src"
	mkdir -p "/usr/src/linux-headers-$R" "/usr/src/linux-headers-$ABI-common"
	mount --bind "$sys/usr/src/linux-headers-$R" "/usr/src/linux-headers-$R"
	mount --bind "$sys/usr/src/linux-headers-$ABI-common" "/usr/src/linux-headers-$ABI-common"
	local made_kb=0
	[ -d "$kb" ] || { mkdir "$kb"; made_kb=1; }
	mount --bind "$sys$kb" "$kb"
	local rc=0 why=
	mkdir -p "$out/dkms"
	make -C "/usr/src/linux-headers-$R" M=/src MO="$out/dkms" CONFIG_IPI_STEER=m \
		${IPI_STEER_STOCK_RUSTC:+RUSTC="$rustc"} modules >"$out/dkms/build.log" 2>&1 ||
		{ rc=$?; why="the module does not build against Debian's headers packages plus the overlay"; }
	# 8. DKMS, as `make install` runs it on the target machine: the
	#    sources staged by scripts/dkms.sh, added, built and installed by
	#    Debian's dkms against the same headers (its trees kept apart).
	local dk=$out/dkms-tree dkv
	dkv=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' /src/dkms.conf)
	if [ $rc = 0 ] && [ -z "${IPI_STEER_STOCK_RUSTC:-}" ]; then
		rm -rf "$dk"
		mkdir -p "$dk/var" "$dk/lib/modules/$R"
		/src/scripts/dkms.sh source "" >/dev/null
		{
			dkms add "ipi_steer/$dkv" --dkmstree "$dk/var" &&
				dkms build "ipi_steer/$dkv" -k "$R" --dkmstree "$dk/var" \
					--kernelsourcedir "/usr/src/linux-headers-$R" &&
				dkms install "ipi_steer/$dkv" -k "$R" --dkmstree "$dk/var" \
					--kernelsourcedir "/usr/src/linux-headers-$R" --installtree "$dk/lib/modules" \
					--force
		} >"$out/dkms/dkms.log" 2>&1 || { rc=$?; why="dkms could not build or install ipi_steer (dkms.log above)"; }
	fi
	umount "$kb" "/usr/src/linux-headers-$R" "/usr/src/linux-headers-$ABI-common" "/usr/src"
	[ $made_kb = 0 ] || rmdir "$kb"
	rm -rf "$sys"
	if [ $rc != 0 ] || grep -Eq 'warning:|error:' "$out/dkms/build.log"; then
		cat "$out/dkms/build.log" "$out/dkms/dkms.log" >&2 2>/dev/null
		[ -n "$why" ] || why="the module does not build warning-free against Debian's headers packages plus the overlay"
		die "$why"
	fi
	same "the vermagic of the module built against the headers packages" \
		"$vermagic" "$(modinfo -F vermagic "$out/dkms/ipi_steer.ko")"
	if [ -z "${IPI_STEER_STOCK_RUSTC:-}" ]; then
		local dko
		dko=$(find "$dk/lib/modules/$R" -name 'ipi_steer.ko*' | head -n1)
		[ -n "$dko" ] || { cat "$out/dkms/dkms.log" >&2; die "dkms install left no ipi_steer.ko"; }
		same "the vermagic of the module dkms installed" "$vermagic" "$(modinfo -F vermagic "$dko")"
		mkdir -p "$out/dkms-installed"
		cp "$dko" "$out/dkms-installed/ipi_steer.ko"
		log "$R: dkms added, built and installed ipi_steer $dkv ($(basename "$dko"))"
	fi
	log "$R: ipi_steer.ko built, and built again against the headers packages + overlay"
}

if [ "${1:-}" = --inner ]; then
	shift
	inner "$@"
	exit 0
fi

host_only
RELEASE=${1:-$STOCK_RELEASE}
case "$RELEASE" in
"$ABI"-*) ;;
*+deb13-*) die "$RELEASE is not Linux $KERNEL_VERSION, the version of the pinned linux-source ($DEB_VERSION); only $ABI-<flavour> releases can be reproduced" ;;
*) die "$RELEASE is not a Debian 13 kernel release (like $STOCK_RELEASE)" ;;
esac
case "${RELEASE#"$ABI"-}" in
*[!a-z0-9-]* | "") die "bad flavour in $RELEASE" ;;
esac

"$TOP/scripts/toolchain.sh"
DEBS=stock-debs-$DEB_VERSION-$RELEASE
SRC=stock-src-$(key_of "$(kernel_toolchain_key)" "$DEB_VERSION")
OBJ=stock-$RELEASE-$(key_of "$(kernel_toolchain_key)" "$DEB_VERSION" "$(toolchain_key)" \
	"$TOP/scripts/stock.sh" "${IPI_STEER_STOCK_RUSTC:-}")
OUT=build/stock/$RELEASE
# The rustc override is for negative tests: never cache what it builds.
[ -z "${IPI_STEER_STOCK_RUSTC:-}" ] || OBJ=$OBJ-rustc-override
[ -z "${IPI_STEER_STOCK_RUSTC:-}" ] || rm -rf --one-file-system "${CACHE:?}/$OBJ"

IPI_STEER_STOCK_RUSTC=${IPI_STEER_STOCK_RUSTC:-} IN_ROOT_ENV=IPI_STEER_STOCK_RUSTC \
	in_root /src/scripts/stock.sh --inner "$RELEASE" "/cache/$DEBS" "/cache/$SRC" \
	"/cache/$OBJ" "/src/$OUT" || {
	rmdir "$CACHE/$DEBS" 2>/dev/null || true # nothing was downloaded
	exit 1
}
[ -z "${IPI_STEER_STOCK_RUSTC:-}" ] || rm -rf --one-file-system "${CACHE:?}/$OBJ"

# Keep one regenerated tree per release, and one source tree.
for d in "$CACHE"/stock-"$RELEASE"-* "$CACHE"/stock-src-*; do
	case "$d" in
	*/"$OBJ" | */"$SRC" | *.tmp) ;;
	*) [ -d "$d" ] && rm -rf --one-file-system "$d" ;;
	esac
done
echo "$TOP/$OUT"
