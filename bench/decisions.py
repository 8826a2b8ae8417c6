"""Kept for the old command: the in-process part of the suite (bench/run.py) on small data.

    python bench/decisions.py [--backend sqlite] [--seconds 0.6]

The whole suite, with HTTP and the large data set, is ``make bench`` (bench/run.py).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["--size", "small", "--backend", "sqlite", "--quick", *sys.argv[1:]]))
