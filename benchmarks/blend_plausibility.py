"""Issue 19's plausibility check (model/blends.py) for a conductivity model: how many of 200 random
EC/PC/DMC/EMC/DEC blends fall below 0.7× their lowest binary sub-blend or above 1.3× their highest.

    .venv/bin/python -m benchmarks.blend_plausibility [--model DIR]
"""

from __future__ import annotations

import argparse
import json

from model.blends import check
from model.predict import Predictor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model directory (default: the shipped conductivity model)")
    args = ap.parse_args()
    print(json.dumps({"model": args.model or "shipped", **check(Predictor.load("ionic_conductivity", args.model))}))


if __name__ == "__main__":
    main()
