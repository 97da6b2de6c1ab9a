#!/usr/bin/env bash
# Build fastbp's sdist and wheel (the wheel from the sdist, as `python -m build`
# does) in a temporary directory, check what each ships, install the wheel into
# a fresh virtual environment with binaries only (no Cython, no compiler), and
# run tools/smoke_wheel.py there, from outside the source tree.
#
#   tools/check_wheel.sh            build, check, install, smoke test
#   tools/check_wheel.sh --tests    also `pytest tests` against the installed wheel
#   tools/check_wheel.sh --stubtest also check src/fastbp/_core.pyi against the
#                                   compiled module (mypy.stubtest)
#   tools/check_wheel.sh --keep     keep the temporary directory (dist/, venv)
#
# PYTHON picks the interpreter (default python3). The repository is left as it
# was: the build runs on a copy of the files git tracks or would track
# (committed, changed and untracked, less what .gitignore ignores).
set -euo pipefail

run_tests=0
stubtest=0
keep=0
for arg in "$@"; do
    case "$arg" in
        --tests) run_tests=1 ;;
        --stubtest) stubtest=1 ;;
        --keep) keep=1 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/fastbp-check.XXXXXX")
cleanup() { if [ "$keep" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT
step() { printf '\n== %s ==\n' "$*"; }

step "copy of the source tree in $work/src"
mkdir "$work/src"
if git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Files deleted but not yet staged are listed too: skip them.
    (cd "$repo" && git ls-files -co --exclude-standard -z \
        | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
        | tar --null -T - -cf -) | tar -C "$work/src" -xf -
else
    tar -C "$repo" --exclude=build --exclude=dist --exclude='*.egg-info' \
        --exclude='*.so' --exclude='*.pyd' --exclude=src/fastbp/_core.c -cf - . \
        | tar -C "$work/src" -xf -
fi

step "build sdist and wheel"
# From here on, run outside the repository: a build/ folder there would pass
# for the `build` package.
cd "$work"
if "$python" -c "import build.__main__" 2>/dev/null; then
    builder=$python
else
    "$python" -m venv "$work/buildenv"
    "$work/buildenv/bin/python" -m pip install -q build
    builder=$work/buildenv/bin/python
fi
"$builder" -m build --outdir "$work/dist" "$work/src" > "$work/build.log" 2>&1 \
    || { tail -40 "$work/build.log"; echo "build failed (log: $work/build.log)" >&2; keep=1; exit 1; }
grep -E '^Successfully built' "$work/build.log"
sdist=$(ls "$work"/dist/fastbp-*.tar.gz)
wheel=$(ls "$work"/dist/fastbp-*.whl)

step "contents"
"$python" - "$sdist" "$wheel" <<'EOF'
import fnmatch, sys, tarfile, zipfile

sdist, wheel = sys.argv[1:]
with tarfile.open(sdist) as tf:
    names = [n.split("/", 1)[1] for n in tf.getnames() if "/" in n]
with zipfile.ZipFile(wheel) as zf:
    wnames = zf.namelist()
problems = []
for want in ["README.md", "pyproject.toml", "setup.py", "MANIFEST.in",
             "src/fastbp/_core.pyx", "src/fastbp/_core_*.pxi", "src/fastbp/_kernels.pxd",
             "src/fastbp/_core.pyi",
             "src/fastbp/py.typed", "tests/conftest.py", "csrc/*.c", "csrc/*.h"]:
    if not fnmatch.filter(names, want):
        problems.append(f"sdist lacks {want}")
for bad in ["src/fastbp/_core.c", "*.so", "*.pyd", "*.o", "build/*", "*.egg-info/*/*"]:
    hits = fnmatch.filter(names, bad)
    if hits:
        problems.append(f"sdist ships {hits}")
for want in ["fastbp/_core.*.so", "fastbp/py.typed", "fastbp/_core.pyi", "fastbp/__main__.py"]:
    if not (fnmatch.filter(wnames, want) or fnmatch.filter(wnames, want.replace(".so", ".pyd"))):
        problems.append(f"wheel lacks {want}")
# The one C file a wheel carries is data: `fastbp bench` compiles the FANN
# harness against libfann at run time.
HARNESS = "fastbp/bench/fann_harness.c"
if HARNESS not in wnames:
    problems.append(f"wheel lacks {HARNESS}")
for bad in ["*.c", "*.h", "*.o", "tests/*"]:
    hits = [n for n in fnmatch.filter(wnames, bad) if n != HARNESS]
    if hits:
        problems.append(f"wheel ships {hits}")
print(f"sdist {sdist.rsplit('/', 1)[1]}: {len(names)} entries; "
      f"csrc: {' '.join(sorted(n[5:] for n in names if n.startswith('csrc/') and n != 'csrc/'))}")
print(f"wheel {wheel.rsplit('/', 1)[1]}:")
for n in wnames:
    print("   ", n)
for p in problems:
    print("PROBLEM:", p)
sys.exit(1 if problems else 0)
EOF

step "fresh venv, wheel installed from binaries only"
"$python" -m venv "$work/venv"
vpy=$work/venv/bin/python
"$vpy" -m pip install -q --only-binary :all: "$wheel"
"$vpy" -m pip list --format=freeze | grep -iE '^(fastbp|numpy|cython|setuptools)=' || true
if "$vpy" -c "import Cython" 2>/dev/null; then echo "Cython is in the venv" >&2; exit 1; fi

step "smoke test (from $work/run)"
mkdir "$work/run"
cd "$work/run"   # not the source tree: the installed fastbp is imported
"$vpy" "$repo/tools/smoke_wheel.py"

if [ "$run_tests" = 1 ]; then
    step "pytest tests against the installed wheel"
    # The test extra of the wheel's own metadata: pytest, pytest-benchmark, ...
    "$vpy" -m pip install -q "${wheel}[test]"
    # No cache or bytecode written into the repository's tests/.
    PYTHONDONTWRITEBYTECODE=1 "$vpy" -m pytest -p no:cacheprovider -q "$repo/tests"
fi
if [ "$stubtest" = 1 ]; then
    step "stubtest: _core.pyi against the compiled fastbp._core"
    "$vpy" -m pip install -q mypy
    "$vpy" -m mypy.stubtest fastbp._core --allowlist "$repo/tools/stubtest_allowlist.txt"
fi
step "all checks passed"
