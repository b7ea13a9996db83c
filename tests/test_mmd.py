"""MMD^2 against a plain reference, chunking invariance, and its behaviour on samples."""

from __future__ import annotations

import math

import pytest
import torch

from cibr_lab.info import median_bandwidths, mmd2


def reference_mmd2(x, y, bandwidths, unbiased):
    """Textbook double sums with an explicit kernel, float64."""
    x, y = x.double(), y.double()

    def k(a, b):
        d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return sum(torch.exp(-d2 / (2 * s**2)) for s in bandwidths)

    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    m, n = len(x), len(y)
    if unbiased:
        sxx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
        syy = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
        return sxx + syy - 2 * kxy.mean()
    return kxx.mean() + kyy.mean() - 2 * kxy.mean()


@pytest.mark.parametrize("unbiased", [True, False])
def test_matches_reference(unbiased):
    gen = torch.Generator().manual_seed(0)
    x, y = (
        torch.randn(37, 5, generator=gen, dtype=torch.float64),
        torch.randn(23, 5, generator=gen, dtype=torch.float64) + 0.3,
    )
    bws = [0.5, 1.0, 3.0]
    got = mmd2(x, y, bandwidths=bws, unbiased=unbiased)
    assert torch.allclose(got, reference_mmd2(x, y, bws, unbiased), atol=1e-10)


def test_chunked_equals_unchunked():
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(301, 16, generator=gen), torch.randn(257, 16, generator=gen) * 1.2
    full = mmd2(x.double(), y.double(), chunk_size=4096)
    for chunk in (1, 7, 64, 300):
        assert torch.allclose(mmd2(x.double(), y.double(), chunk_size=chunk), full, atol=1e-12)
    # float32 inputs accumulate block sums in float64: close to the float64 result
    assert torch.allclose(mmd2(x, y, chunk_size=7).double(), full, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("unbiased", [True, False])
def test_pooled_small_input_path_equals_the_chunked_blocks_in_value_and_gradient(unbiased):
    # up to 1024 points mmd2 takes one pooled kernel matrix; chunk_size below the size forces
    # the block path. With the same bandwidths both agree to rounding, gradients included; the
    # median bandwidths agree to float32 (median_bandwidths measures distances in float32).
    gen = torch.Generator().manual_seed(2)
    x0 = torch.randn(32, 8, generator=gen, dtype=torch.float64)
    y0 = torch.randn(48, 8, generator=gen, dtype=torch.float64) * 0.8 + 0.2
    for bandwidths, rtol in ((median_bandwidths(x0, y0), 1e-10), (None, 1e-6)):
        results = []
        for chunk in (2048, 16):
            x, y = x0.clone().requires_grad_(), y0.clone().requires_grad_()
            value = mmd2(x, y, bandwidths=bandwidths, unbiased=unbiased, chunk_size=chunk)
            value.backward()
            results.append((value.detach(), x.grad, y.grad))
        for fused, blocks in zip(*results, strict=True):
            assert torch.allclose(fused, blocks, rtol=rtol, atol=1e-12)


def test_unbiased_near_zero_for_equal_distributions_and_positive_for_shift():
    gen = torch.Generator().manual_seed(2)
    same = torch.stack(
        [
            mmd2(torch.randn(200, 8, generator=gen), torch.randn(200, 8, generator=gen))
            for _ in range(10)
        ]
    )
    shifted = mmd2(torch.randn(200, 8, generator=gen), torch.randn(200, 8, generator=gen) + 0.5)
    assert abs(float(same.mean())) < 3 * float(same.std()) / math.sqrt(10) + 1e-3
    assert float(shifted) > 10 * float(same.abs().max())


def test_biased_is_non_negative_and_gradients_flow():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(40, 4, generator=gen, requires_grad=True)
    y = torch.randn(30, 4, generator=gen)
    value = mmd2(x, y, unbiased=False, chunk_size=16)
    assert float(value.detach()) >= 0
    value.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_median_bandwidths_scale_with_the_data():
    gen = torch.Generator().manual_seed(4)
    x, y = torch.randn(100, 3, generator=gen), torch.randn(100, 3, generator=gen)
    bw = median_bandwidths(x, y, scales=(1.0,))
    bw10 = median_bandwidths(10 * x, 10 * y, scales=(1.0,))
    assert torch.allclose(bw10, 10 * bw, rtol=1e-5)
    assert torch.allclose(mmd2(x, y), mmd2(10 * x, 10 * y), rtol=1e-4, atol=1e-6)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="feature dimension"):
        mmd2(torch.randn(5, 3), torch.randn(5, 4))
    with pytest.raises(ValueError, match="NaN"):
        mmd2(torch.full((5, 3), float("nan")), torch.randn(5, 3))
    with pytest.raises(ValueError, match="at least 2 rows"):
        mmd2(torch.randn(1, 3), torch.randn(5, 3))
    with pytest.raises(ValueError, match=r"\[n, d\]"):
        mmd2(torch.randn(5), torch.randn(5, 3))
    with pytest.raises(ValueError, match="positive"):
        mmd2(torch.randn(5, 3), torch.randn(5, 3), bandwidths=[1.0, -1.0])
