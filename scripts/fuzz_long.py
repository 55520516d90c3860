"""The properties of ``tests/test_fuzz.py``, run for longer (not derandomized).

Usage: ``python scripts/fuzz_long.py [--examples N] [--only grammar|training]``.
Each failure hypothesis finds is shrunk and printed with its source; the exit status is 1
if any property failed. The default (2000 examples each) takes tens of minutes.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--only", choices=("grammar", "training"))
    args = parser.parse_args(argv)

    from hypothesis import HealthCheck, given, settings, strategies as st

    import test_fuzz

    budget = settings(max_examples=args.examples, deadline=None, derandomize=False,
                      database=None, suppress_health_check=list(HealthCheck), print_blob=True)
    properties = {
        "grammar": (st.deferred(test_fuzz.generated_python), test_fuzz.check_generated),
        "training": (test_fuzz.training_scripts(), test_fuzz.check_training),
    }
    failed = 0
    for name, (strategy, check) in properties.items():
        if args.only and name != args.only:
            continue
        test = budget(given(strategy)(check))
        print(f"== {name}: {args.examples} examples", flush=True)
        try:
            test()
        except Exception:  # hypothesis has printed the falsifying example
            failed += 1
            traceback.print_exc()
        else:
            print(f"   {name}: passed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
