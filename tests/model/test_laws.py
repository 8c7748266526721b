import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from model import laws


def test_redlich_kister_binary_known_answer():
    # H^E = x1 x2 [A0 + A1 (x1 − x2)] with A0 = −1000, A1 = 200 at x1 = 0.3
    x = torch.tensor([[0.3, 0.7]], dtype=torch.float64)
    coeffs = torch.zeros(1, 2, 2, 2, dtype=torch.float64)
    coeffs[0, 0, 1] = torch.tensor([-1000.0, 200.0])
    coeffs[0, 1, 0] = torch.tensor([-1000.0, -200.0])  # A^1_ji = −A^1_ij
    expected = 0.3 * 0.7 * (-1000 + 200 * (0.3 - 0.7))
    assert math.isclose(laws.redlich_kister(x, coeffs).item(), expected, rel_tol=1e-12)


def test_redlich_kister_pure_component_is_zero():
    x = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    coeffs = laws.symmetrise_pair_coefficients(torch.randn(1, 3, 3, 5, dtype=torch.float64))
    assert laws.redlich_kister(x, coeffs).item() == 0.0


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 6), st.integers(0, 14), st.integers(0, 2**31 - 1))
def test_symmetrised_coefficients_have_rk_parity(c, order, seed):
    g = torch.Generator().manual_seed(seed)
    raw = torch.randn(3, c, c, order + 1, generator=g, dtype=torch.float64)
    a = laws.symmetrise_pair_coefficients(raw)
    for k in range(order + 1):
        assert torch.allclose(a[..., k].transpose(1, 2), (-1) ** k * a[..., k])


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 6), st.integers(0, 9), st.integers(0, 2**31 - 1))
def test_redlich_kister_invariant_to_component_order(c, order, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(4, c, generator=g, dtype=torch.float64)
    x = x / x.sum(1, keepdim=True)
    a = laws.symmetrise_pair_coefficients(torch.randn(4, c, c, order + 1, generator=g, dtype=torch.float64))
    perm = torch.randperm(c, generator=g)
    a_perm = a[:, perm][:, :, perm]
    assert torch.allclose(laws.redlich_kister(x, a), laws.redlich_kister(x[:, perm], a_perm))


def test_vft_known_value_and_log_form():
    t = torch.tensor([300.0], dtype=torch.float64)
    k = laws.vft(t, torch.tensor([100.0], dtype=torch.float64), torch.tensor([600.0], dtype=torch.float64),
                 torch.tensor([150.0], dtype=torch.float64))
    assert k.item() == 100 * np.exp(-600 / 150)
    lk = laws.log_vft(t, torch.log(torch.tensor([100.0], dtype=torch.float64)), torch.tensor([600.0], dtype=torch.float64),
                      torch.tensor([150.0], dtype=torch.float64))
    assert torch.allclose(torch.exp(lk), k)


def test_blend_from_binaries_weights_each_pair_by_its_share_product():
    from model.laws import blend_from_binaries

    shares = torch.tensor([[0.2, 0.3, 0.5, 0.0], [0.4, 0.6, 0.0, 0.0]], dtype=torch.float64)  # an ion slot is 0
    pairs = torch.tensor([[0, 1], [0, 2], [1, 2], [0, 3]])
    binary = torch.tensor([[[1.0], [2.0], [4.0], [100.0]]] * 2, dtype=torch.float64)
    out = blend_from_binaries(shares, pairs, binary)
    w = torch.tensor([0.06, 0.10, 0.15], dtype=torch.float64)
    assert out[0, 0].item() == pytest.approx(float((w * torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64)).sum() / w.sum()), rel=1e-12)
    assert out[1, 0].item() == pytest.approx(1.0, rel=1e-12)  # a binary is its own pair's coefficients
    assert torch.all(torch.isfinite(blend_from_binaries(torch.zeros(1, 4, dtype=torch.float64), pairs, binary[:1])))
