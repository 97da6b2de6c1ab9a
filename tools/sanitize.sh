#!/usr/bin/env bash
# Memory-safety check of the compiled core: builds fastbp._core with
# AddressSanitizer and UndefinedBehaviorSanitizer (setup.py's FASTBP_SANITIZE=1,
# which also turns on Cython's bounds checks) in a throwaway copy of this
# checkout, then runs the test suite against that build. Nothing is built in
# the checkout itself, and the installed fastbp is not used.
#
#   tools/sanitize.sh              all of tests/ (not benchmarks/)
#   tools/sanitize.sh --quick      a short subset; what .ci/run runs
#   tools/sanitize.sh --keep ...   keep the temporary copy, and say where
#   tools/sanitize.sh -- ARGS      pass ARGS on to pytest (e.g. -k, -x, a file)
#
# Exits non-zero on a failed test, on no test run, and on any sanitizer report
# (each one is printed at the end, with its stack). Only the core is
# instrumented: CPython and NumPy run as they are, with the sanitizer runtimes
# preloaded, so a bad access by the core into a NumPy array is caught.
#
# Needs: GCC with libasan and libubsan (Debian's gcc brings both), and the
# build requirements of pyproject.toml (setuptools, Cython, numpy) plus
# pytest and pytest-benchmark in the running Python.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

quick=0
keep=0
pytest_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --keep) keep=1 ;;
        -h|--help) usage; exit 0 ;;
        --) shift; pytest_args+=("$@"); break ;;
        *) echo "sanitize: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

say() { echo "sanitize: $*" >&2; }
die() { say "$*"; exit 1; }

repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python}"

# The sanitizer runtimes. gcc prints the bare name back when it has no such
# library, so anything but an existing absolute path means it is missing.
command -v gcc >/dev/null || die "gcc not found; the sanitizer build needs GCC with libasan and libubsan"
runtime() {
    local lib
    lib="$(gcc -print-file-name="$1")"
    case "$lib" in
        /*) [ -e "$lib" ] && { echo "$lib"; return; } ;;
    esac
    die "gcc has no $1 (gcc -print-file-name=$1 printed '$lib'); install GCC's" \
        "sanitizer runtimes (Debian/Ubuntu: the gcc package brings libasan and libubsan)"
}
asan_lib="$(runtime libasan.so)"
ubsan_lib="$(runtime libubsan.so)"

"$python" -c "import Cython, setuptools, numpy, pytest, pytest_benchmark" 2>/dev/null ||
    die "$python lacks a build or test requirement; install them with:" \
        "$python -m pip install 'setuptools>=77' 'Cython>=3.0' 'numpy>=2.0' pytest pytest-benchmark"

# A copy of the working tree as git sees it: tracked files (with uncommitted
# edits) and new files not ignored; no build products, so cythonize starts
# afresh with the sanitizer build's directives.
git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
    die "$repo is not a git checkout; the copy to build is made from git's file list"
work="$(mktemp -d "${TMPDIR:-/tmp}/fastbp-sanitize.XXXXXX")"
if [ "$keep" = 1 ]; then
    trap 'say "kept $work"' EXIT
else
    trap 'rm -rf "$work"' EXIT
fi
src="$work/fastbp"
mkdir -p "$src" "$work/reports"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf -) | tar -C "$src" -xf -

say "building the sanitized extension in $src"
start=$SECONDS
if ! (cd "$src" && env -u LDSHARED CC=gcc FASTBP_SANITIZE=1 \
        "$python" setup.py build_ext --inplace --parallel 2 >"$work/build.log" 2>&1); then
    tail -n 40 "$work/build.log" >&2
    die "the sanitized build failed (log above)"
fi
say "built in $((SECONDS - start)) s"

# The run's environment. An error ends the process at once (halt_on_error;
# the UBSan checks are built unrecoverable), by SIGABRT (abort_on_error), so
# pytest's faulthandler also prints the Python stack of the test that ran.
# Every report leaves a file under reports/, from subprocesses too, so none
# goes unnoticed whatever a test does with a child's exit status or stderr:
# ASan writes its whole report there; GCC's UBSan writes only the SUMMARY
# line there and the report itself to stderr.
#   detect_leaks=0: CPython does not free everything at exit, by design.
#   allocator_may_return_null=1: a huge allocation is a MemoryError, as without
#     ASan, instead of a report.
#   PYTHONMALLOC=malloc: Python objects come from malloc too, so ASan sees them.
common="abort_on_error=1:disable_coredump=1:print_summary=1"
run_env=(
    env
    LD_PRELOAD="$asan_lib $ubsan_lib"
    ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:halt_on_error=1:$common:log_path=$work/reports/asan"
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:$common:log_path=$work/reports/ubsan"
    PYTHONMALLOC=malloc
    PYTHONPATH="$src/src"
    PYTHONDONTWRITEBYTECODE=1
)

# The tests must import this build, not an installed or editable fastbp.
core_file="$(cd "$work" && "${run_env[@]}" "$python" -c \
    'import fastbp._core as c; print(c.__file__)')" ||
    die "the sanitized fastbp._core does not import (see above)"
case "$core_file" in
    "$src/src/fastbp/"*) ;;
    *) die "fastbp._core came from $core_file, not from the sanitized build in $src" ;;
esac
# (grep reads all of ldd: with -q, pipefail could fail on ldd's SIGPIPE)
ldd "$core_file" | grep libasan >/dev/null || die "$core_file is not linked with ASan"
say "testing $core_file"

if [ "$quick" = 1 ]; then
    # The tests that drive the core, without those that spend their time
    # elsewhere: test_gradient.py's finite differences in the pure-Python
    # reference, and the integrations (scikit-learn's suite and checks, the
    # CLI, dask, River, pictures, the README and tutorial), which reach the
    # core only through entries the rest call directly. What is left still
    # calls every entry point of the core (fit per sample and in batches, the
    # one-sample step, predict, loss, gradient, sparse input, L-BFGS's
    # objective) for both float types on every kernel path this CPU runs,
    # from several threads and under interrupts, and feeds it every accepted
    # memory layout (test_layouts.py, test_views_and_copies.py).
    selection=(tests)
    for skipped in gradient sklearn_suite sklearn_checks sklearn_parity estimators cli \
                   dask river plot notebook readme tutorial bench peers progress; do
        selection+=("--ignore=tests/test_$skipped.py")
    done
else
    selection=(tests)
fi
# ASan keeps freed memory in quarantine, so resident memory grows by design:
# test_memory.py's flat-RSS checks mean nothing here (the normal run has them).
selection+=(--ignore=tests/test_memory.py)

start=$SECONDS
status=0
# --capture=sys: the sanitizers write to file descriptor 2 directly, which
# pytest's default capture would take away with the dying process.
(cd "$src" && "${run_env[@]}" "$python" -m pytest -p no:cacheprovider -q --capture=sys \
    "${selection[@]}" ${pytest_args[@]+"${pytest_args[@]}"}) || status=$?
say "pytest exited $status after $((SECONDS - start)) s"

reports=("$work"/reports/*)
if [ -e "${reports[0]}" ]; then
    for r in "${reports[@]}"; do
        echo "===== sanitizer report ${r##*/} (process ${r##*.}) =====" >&2
        cat "$r" >&2
    done
    case "${reports[*]}" in
        *ubsan.*) say "a UBSan report's 'runtime error' and stack are on stderr above" \
                      "(or in the captured stderr of a test's subprocess)" ;;
    esac
    die "FAILED: ${#reports[@]} sanitizer report(s)"
fi
case "$status" in
    0) say "clean: no sanitizer report, every test passed" ;;
    5) die "FAILED: pytest collected no tests" ;;
    *) die "FAILED: pytest exited $status" ;;
esac
