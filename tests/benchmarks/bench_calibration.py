"""Power curves of every verdict path, printed (run by hand; not collected by pytest).

For each path of ``mqbench.stats.calibrate`` and each true effect (the contender's ratio; for the produce share a
difference in points ÷ 100), simulated runs are decided by ``findings.findings``: the share of runs with any
*different* and, of the path's tested comparisons, the shares called *different* and *equivalent*. At effect 1
the first column is the false-alarm rate (tests/unit/test_calibration.py holds it at 5%).

    .venv/bin/python tests/benchmarks/bench_calibration.py [--runs 200] [--effects 1 1.05 1.1 1.2]
"""
from __future__ import annotations

import argparse

import pandas as pd
from mqbench.stats import calibrate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--effects", type=float, nargs="+", default=[1.0, 1.05, 1.1, 1.2])
    args = parser.parse_args()
    rows = []
    for path in calibrate.PATHS:
        for effect in args.effects:
            r = calibrate.verdict_rates(path, 7, args.runs, effect)
            rows.append({"path": path, "effect": effect, "runs with any different": r["any_different"] / r["runs"],
                         "comparisons different": r["different"] / max(1, r["comparisons"]),
                         "comparisons equivalent": r["equivalent"] / max(1, r["comparisons"])})
    with pd.option_context("display.width", 160, "display.float_format", "{:.3f}".format):
        print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
