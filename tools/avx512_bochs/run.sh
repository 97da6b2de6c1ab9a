#!/usr/bin/env bash
# Runs fastbp's AVX-512 kernels in the bochs emulator and compares them with
# the baseline and AVX2 kernels. The development machine has no AVX-512, and
# qemu-user cannot stand in: the TCG of Debian bookworm's qemu-user 7.2 lacks
# AVX-512, so the first ZMM instruction is a SIGILL whatever -cpu says.
# Bochs 2.7 emulates it.
#
# The repository's csrc/ is compiled with setup.py's flags into one static
# program, tests/c/compare_paths.c, which calls every entry point of the core (fit
# with SGD and with Adam, predict, loss, gradient) on 228 cases (shapes x
# activations x losses x float32/float64) on each instruction-set path from
# the same parameters and data. It runs as /init (guest_init.sh) of a minimal
# Linux (Debian's current amd64 kernel and busybox, on a boot CD) in bochs
# emulating a Skylake-X, and once more on this machine. About 5 minutes, four
# of them in the emulator.
#
# Exit status 0 only if the guest took the avx512 path (fbp_path(2) = avx512;
# otherwise the run proves nothing), every case ran without a crash, and no
# result was NaN or infinite or further from the baseline's than the
# tolerance of tests/test_equivalence.py (float32 1e-4, float64 1e-10,
# normwise relative). The baseline and avx2 results in the guest are also
# compared bit for bit, by hash, with those of the same program on this
# machine: equal, they show that the emulator's arithmetic is faithful; a
# difference is a warning, not a failure.
#
# Bochs workarounds:
#   - Debian builds bochs with its debugger, which stops before the first
#     instruction: the debugger command "c" (continue) comes from an -rc file.
#   - Bochs 2.7's CPUID leaf 0xD lists PKRU in the XCR0 mask without giving
#     its size, and gives a wrong size for the compacted XSAVE format; Linux
#     then turns XSAVE off, and AVX with it. The kernel command line hides
#     PKU, XSAVES and XSAVEC (clearcpuid=pku,xsaves,xsavec nopku), which
#     leaves the standard format, whose sizes bochs gets right.
#   - CPU model corei7_skylake_x, not tigerlake: see bochsrc.in.
#
# Not for CI: it needs root (apt-get) and minutes of emulation. Run it by hand
# after changing csrc/.
#
#   tools/avx512_bochs/run.sh          everything, in a temporary directory
#   tools/avx512_bochs/run.sh --keep   keep that directory (boot CD, bochs
#                                      log, serial console, both outputs)
#
# WORK=dir works in dir instead, and keeps it. BOCHS_TIMEOUT (seconds,
# default 3000) bounds the wait for the guest. A failed run keeps its
# directory too.
set -euo pipefail

keep=0
for arg in "$@"; do
    case "$arg" in
        --keep) keep=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
timeout=${BOCHS_TIMEOUT:-3000}
if [ -n "${WORK:-}" ]; then
    work=$WORK
    mkdir -p "$work"
    keep=1
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/fastbp-avx512.XXXXXX")
fi
bochs_pid=
cleanup() {
    if [ -n "$bochs_pid" ]; then
        kill "$bochs_pid" 2>/dev/null || true
        wait "$bochs_pid" 2>/dev/null || true
    fi
    if [ "$keep" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
step() { printf '\n== %s ==\n' "$*"; }
die() { echo "FAILED: $*" >&2; keep=1; exit 1; }
start=$SECONDS

step "packages"
[ "$(id -u)" = 0 ] || die "needs root, for apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q > "$work/apt.log" 2>&1 || { tail "$work/apt.log"; die "apt-get update failed"; }
# --no-upgrade: installs what is missing, upgrades nothing (gcc included).
apt-get install -y -q --no-upgrade bochs bochsbios isolinux syslinux-common xorriso cpio \
    busybox-static gcc libc6-dev >> "$work/apt.log" 2>&1 \
    || { tail "$work/apt.log"; die "apt-get install failed (log: $work/apt.log)"; }
dpkg-query -W bochs busybox-static

step "Debian's kernel"
kernel_pkg=$(apt-cache depends linux-image-amd64 \
    | sed -n 's/^ *|\{0,1\}Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
[ -n "$kernel_pkg" ] || die "no kernel package among the dependencies of linux-image-amd64"
(cd "$work" && apt-get download "$kernel_pkg" >> apt.log 2>&1) \
    || die "apt-get download $kernel_pkg failed (log: $work/apt.log)"
mkdir "$work/kernel"
deb=$(echo "$work/$kernel_pkg"_*.deb)
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/kernel" --wildcards './boot/vmlinuz-*'
vmlinuz=$(echo "$work"/kernel/boot/vmlinuz-*)
echo "${vmlinuz##*/} from ${deb##*/}"

step "compare_paths, static, with setup.py's flags"
# COMPILE_ARGS's list for GCC and clang: the flags starting with "-" (the
# other list is MSVC's "/O2").
flags=$(sed -n '/^COMPILE_ARGS *=/,/)$/p' "$repo/setup.py" | grep -o '"-[^"]*"' \
    | tr -d '"' | xargs)
case " $flags " in *" -O3 "*) ;; *) die "no -O3 among setup.py's COMPILE_ARGS: read '$flags'" ;; esac
echo "gcc $flags"
mkdir "$work/obj"
for src in "$repo"/csrc/*.c "$repo/tests/c/compare_paths.c"; do
    # shellcheck disable=SC2086  # $flags is a list of words
    gcc $flags -I"$repo/csrc" -c "$src" -o "$work/obj/$(basename "$src" .c).o" \
        || die "compiling $src failed"
done
gcc -static -o "$work/compare_paths" "$work"/obj/*.o -lm || die "linking compare_paths failed"

step "compare_paths on this machine"
host_status=0
"$work/compare_paths" > "$work/host.out" || host_status=$?
grep -E '^(cpu|fbp_path|SUMMARY)' "$work/host.out"
n_cases=$(grep -c '^case  *[0-9]' "$work/host.out")

step "boot CD"
root=$work/rootfs
cd_dir=$work/cd
mkdir -p "$root/bin" "$cd_dir/isolinux"
cp /bin/busybox "$work/compare_paths" "$root/bin/"
cp "$here/guest_init.sh" "$root/init"
chmod 755 "$root/init"
# The kernel's built-in initramfs already holds /dev/console, which init's
# output goes to.
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$cd_dir/initrd.gz"
cp "$vmlinuz" "$cd_dir/vmlinuz"
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$cd_dir/isolinux/"
# console=ttyS0: the serial port, which bochs writes to a file. clearcpuid
# and nopku: see the header. The rest only spares the emulator work: no
# Spectre-style mitigations, no checks of the TSC and timer.
cat > "$cd_dir/isolinux/isolinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL /vmlinuz
  APPEND initrd=/initrd.gz console=ttyS0,115200 clearcpuid=pku,xsaves,xsavec nopku \
mitigations=off tsc=reliable no_timer_check
EOF
xorriso -as mkisofs -o "$work/boot.iso" -b isolinux/isolinux.bin -c isolinux/boot.cat \
    -no-emul-boot -boot-load-size 4 -boot-info-table "$cd_dir" > "$work/xorriso.log" 2>&1 \
    || { tail "$work/xorriso.log"; die "xorriso failed"; }
echo "$work/boot.iso: $(stat -c %s "$work/boot.iso") bytes"

step "bochs (Skylake-X), at most $timeout s"
serial=$work/serial.log
sed -e "s|@ISO@|$work/boot.iso|" -e "s|@SERIAL@|$serial|" -e "s|@LOG@|$work/bochs.log|" \
    "$here/bochsrc.in" > "$work/bochsrc"
echo c > "$work/debugger.rc"
bochs-bin -q -f "$work/bochsrc" -rc "$work/debugger.rc" < /dev/null > "$work/bochs.out" 2>&1 &
bochs_pid=$!
boot_start=$SECONDS
next_report=60
# Up to the \r with which the console ends a line: the whole line is there.
while ! grep -q $'^=== GUEST DONE rc=[0-9]*\r' "$serial" 2>/dev/null; do
    elapsed=$((SECONDS - boot_start))
    kill -0 "$bochs_pid" 2>/dev/null \
        || die "bochs ended before the guest was done (see $work/bochs.log)"
    grep -q 'Kernel panic' "$serial" 2>/dev/null && die "the guest kernel panicked (see $serial)"
    [ "$elapsed" -lt "$timeout" ] || die "the guest was not done after $timeout s (BOCHS_TIMEOUT)"
    if [ "$elapsed" -ge "$next_report" ]; then
        done_cases=$(grep -c '^case  *[0-9]' "$serial" 2>/dev/null || true)
        echo "$elapsed s: $done_cases of $n_cases cases"
        next_report=$((next_report + 60))
    fi
    sleep 2
done
echo "guest done after $((SECONDS - boot_start)) s"
kill "$bochs_pid" 2>/dev/null || true
wait "$bochs_pid" 2>/dev/null || true
bochs_pid=
tr -d '\r' < "$serial" | sed -n '/^=== GUEST START/,/^=== GUEST DONE/p' > "$work/guest.out"
guest=$work/guest.out

step "results in the emulator"
grep -E '^(cpu|fbp_path)' "$guest"
grep -E '^case.*(CRASH|FAIL)' "$guest" || true
echo
sed -n '/^largest difference/,/^$/p' "$guest"
grep '^SUMMARY' "$guest" || true

# Bit for bit: the baseline and avx2 hashes, per case, in the guest and here.
hashes() { sed -n 's/^case *\([0-9]*\) .*| h \([^ ]*\) \([^ ]*\) [^ ]*.*/\1 \2 \3/p' "$1"; }
read -r n_both base_eq n_avx2 avx2_eq differing < <(awk '
    NR == FNR { base[$1] = $2; avx2[$1] = $3; next }
    ($1 in base) {
        n++; b += base[$1] == $2
        if (avx2[$1] != "-") { a2++; a += avx2[$1] == $3 }
        if (base[$1] != $2 || (avx2[$1] != "-" && avx2[$1] != $3))
            bad = bad (bad ? "," : "") $1
    }
    END { print n + 0, b + 0, a2 + 0, a + 0, (bad ? bad : "-") }' \
    <(hashes "$work/host.out") <(hashes "$guest"))
echo "emulator vs this machine: baseline results bit-identical in $base_eq/$n_both cases," \
    "avx2 in $avx2_eq/$n_avx2"
if [ "$base_eq" != "$n_both" ] || [ "$avx2_eq" != "$n_avx2" ]; then
    echo "WARNING: the emulator's arithmetic differs from this CPU's (cases $differing)," \
        "so its avx512 results are less to be trusted"
fi
if [ "$host_status" != 0 ]; then
    echo "WARNING: on this machine, compare_paths exited with $host_status"
fi

# The verdict.
if ! grep -q '^fbp_path(2) = avx512$' "$guest"; then
    die "the guest did not take the avx512 path" \
        "($(grep '^fbp_path(2)' "$guest" || echo 'no fbp_path(2) line')): the run proves nothing"
fi
summary=$(grep '^SUMMARY' "$guest") \
    || die "compare_paths did not finish in the guest ($(tail -n 1 "$guest"))"
# "SUMMARY: <ran> cases, <crashed> crashed, <failed> above the tolerance ..."
read -r _ ran _ crashed _ failed _ <<< "$summary"
[ "$crashed" = 0 ] || die "$crashed of $ran cases crashed in the emulator (CRASH lines above)"
[ "$failed" = 0 ] || die "$failed of $ran cases differed from the baseline beyond the tolerance," \
    "or were not finite (FAIL lines above)"
echo "PASSED: avx512 and avx2 agree with the baseline in all $ran cases (took $((SECONDS - start)) s)"
