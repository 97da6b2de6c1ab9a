"""The speed table, now ``fastbp bench`` (its code is ``fastbp.bench.compare``).

    python benchmarks/compare.py [--quick] [--markdown] [--repeats N] [--shapes 2-2-2,...]

runs ``fastbp bench`` with the same options.
"""
import sys

from fastbp.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
