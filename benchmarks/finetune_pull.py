"""How far fine-tuning on a lab's measurements moves the shipped conductivity ensemble, per pull toward its weights.

    .venv/bin/python -m benchmarks.finetune_pull [--pulls 30,10,3,1,0.3,0.1,0.03,0] [--measurements 4,12]

The lab of tests/model/test_posterior.py: LiPF6 in PC:EC:DMC (x(Li⁺) 0.05–0.1, 25 °C) that reads 15 % below DiffMix
and whose DMC-rich blends conduct up to 30 % less again. For each number of measurements (random blends) and each
pull, the fine-tuned posterior's MAE as a fraction of the prior's, on the measured blends (in-sample) and on 300
blends the lab did not measure, and the ±2σ coverage there. The loop benchmark measures the same pulls in campaigns
(``bench_loop --strategies learning/finetune --finetune-pull P``).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from benchmarks.bench_loop import DMC, EC, LIPF6, PC


def lab(objective, z: np.ndarray) -> np.ndarray:
    """What the lab measures: 0.85 × DiffMix × (1 − 0.3 × the DMC share)."""
    _, v, _, _ = objective.evaluate(np.atleast_2d(z), gradient=False)
    return 0.85 * v * (1.0 - 0.3 * np.atleast_2d(z)[:, 2])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pulls", default="30,10,3,1,0.3,0.1,0.03,0")
    ap.add_argument("--measurements", default="4,12")
    args = ap.parse_args()
    import model.finetune
    from model.errors import DiffMixInputError

    try:
        pulls = [model.finetune.check_pull(float(v)) for v in args.pulls.split(",")]
        counts = [int(v) for v in args.measurements.split(",")]
    except DiffMixInputError as e:  # a ValueError too: caught first
        ap.error(f"--pulls: {e}")
    except ValueError as e:
        ap.error(f"--pulls takes numbers and --measurements whole numbers, comma-separated ({e})")
    if not all(n >= 1 for n in counts):
        ap.error("each number of measurements is at least 1")
    from model.optimize.design import DesignSpec
    from model.optimize.loop import posterior_for
    from model.optimize.posterior import Observation
    from model.predict import Predictor

    ens = Predictor.load("ionic_conductivity").ensemble.to(torch.float64)
    obj = DesignSpec.parse({"space": {"salt": LIPF6, "solvents": [PC, EC, DMC], "salt_fraction_range": [0.05, 0.1]},
                            "temperature_K": 298.15}).objective_for(ens)
    z_out = obj.space.random_points(300, np.random.default_rng(99))
    y_out = lab(obj, z_out)
    prior_out = obj.evaluate(z_out, gradient=False)[1]
    print("| measurements | pull | in-sample / prior | unmeasured / prior | unmeasured MAE (mS/cm) | ±2σ coverage |")
    print("|---|---|---|---|---|---|")
    for n in counts:
        z = obj.space.random_points(n, np.random.default_rng(0))
        y = lab(obj, z)
        obs = [Observation(z[i], 298.15, float(v)) for i, v in enumerate(y)]
        prior = obj.evaluate(z, gradient=False)[1]
        for pull in pulls:
            model.finetune.PENALTY = pull
            post = posterior_for(obj, obs, surrogate="finetune", seed=1)
            mean = post.predict_numpy(z, 298.15)[0]
            mean_out, std_out = post.predict_numpy(z_out, 298.15)
            err = np.abs(mean_out - y_out)
            print(f"| {n} | {pull:g} | {np.mean(np.abs(mean - y)) / np.mean(np.abs(prior - y)):.2f} | "
                  f"{np.mean(err) / np.mean(np.abs(prior_out - y_out)):.2f} | {np.mean(err):.3f} | "
                  f"{100 * np.mean(err <= 2 * std_out):.0f} % |", flush=True)


if __name__ == "__main__":
    main()
