"""Issue 19's plausibility check (model/blends.py) for a conductivity model: how many of 200 random
EC/PC/DMC/EMC/DEC blends fall below 0.7× their lowest binary sub-blend or above 1.3× their highest, how much the
members disagree on them, the issue's example (1 mol/kg LiPF6 in EC:DMC:EMC 30:35:35 at 25 °C beside its binaries), and
the same salt in each of the five solvents alone and each pair 1:1 (the space's corners and edges).

    .venv/bin/python -m benchmarks.blend_plausibility [--model DIR]
"""

from __future__ import annotations

import argparse
import json

from model.blends import check, commercial_example, edges
from model.predict import Predictor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model directory (default: the shipped conductivity model)")
    args = ap.parse_args()
    predictor = Predictor.load("ionic_conductivity", args.model)
    print(json.dumps({"model": args.model or "shipped", **check(predictor), "example": commercial_example(predictor),
                      "edges": {k: round(v, 2) for k, v in edges(predictor).items()}}))


if __name__ == "__main__":
    main()
