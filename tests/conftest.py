import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)  # tests may run beside other work; avoid OpenMP oversubscription

ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path | None:
    d = Path(os.environ.get("DIFFMIX_DATA_DIR", ROOT.parent / "shared" / "data"))
    return d if (d / "calisol23.csv").exists() else None


@pytest.fixture
def real_data_dir():
    d = shared_data_dir()
    if d is None:
        pytest.skip("the public data folder (../shared/data or $DIFFMIX_DATA_DIR) is not on this machine")
    return d
