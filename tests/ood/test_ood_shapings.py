import re

import numpy as np
import pytest
import torch

from cibr_lab.ood import actfun, get_scorer, get_shaping


def test_actfun_equals_monte_carlo_expectation() -> None:
    gen = torch.Generator().manual_seed(0)
    h = torch.linspace(-2, 4, 13, dtype=torch.float64)
    c, sigma = 1.5, 0.7
    z = torch.randn(400_000, 1, generator=gen, dtype=torch.float64)
    mc = (h[None] + sigma * z).clamp(0, c).mean(dim=0)
    torch.testing.assert_close(actfun(h, c, sigma), mc, atol=4e-3, rtol=0)


def test_actfun_limits() -> None:
    h = torch.linspace(0, 5, 101, dtype=torch.float64)
    react = get_shaping("react", percentile=90)
    react.fit(h[:, None], torch.nn.Linear(1, 2).double())
    c = react.threshold
    for sigma in (1e-2, 1e-4, 1e-6):  # the gap is at most sigma * phi(0)
        gap = (actfun(h, c, sigma) - h.clamp(max=c)).abs().max()
        assert gap <= sigma / np.sqrt(2 * np.pi) + 1e-12
    torch.testing.assert_close(actfun(h, c, 0.0), h.clamp(max=c))
    u = h - 2.5  # c -> inf: the smoothed ReLU E[relu(u + sigma z)]
    z = torch.randn(200_000, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    mc_relu = (u[None] + 0.3 * z).clamp(min=0).mean(dim=0)
    torch.testing.assert_close(actfun(u, 1e6, 0.3), mc_relu, atol=3e-3, rtol=0)
    out = actfun(torch.linspace(-10, 10, 201, dtype=torch.float64), 2.0, 0.8)
    assert out.min() >= 0 and out.max() <= 2.0 and torch.all(out.diff() >= -1e-12)


def test_actfun_shaping_uses_id_percentile_and_sigma_fraction(tiny) -> None:
    h, head = tiny["features"], tiny["head"]
    shaping = get_shaping("actfun", percentile=80, sigma=0.25)
    shaping.fit(h, head)
    c = float(np.percentile(h.numpy(), 80))
    assert shaping.threshold == pytest.approx(c, rel=1e-5)
    shaped, same_head = shaping.apply(h, head)
    torch.testing.assert_close(shaped, actfun(h, c, 0.25 * c), rtol=1e-5, atol=1e-6)
    assert same_head is head


def test_actfun_mc_without_noise_is_react_through_the_model(tiny) -> None:
    net, x, h, y = tiny["net"], tiny["x"], tiny["features"], tiny["labels"]
    mc = get_scorer("energy", get_shaping("actfun_mc", input_sigma=0.0, n_samples=3)).fit(
        h, y, net.head
    )
    react = get_scorer("energy", "react").fit(h, y, net.head)
    torch.testing.assert_close(mc.score_inputs(net, x), react.score(h, net.head))
    noisy = get_scorer("energy", get_shaping("actfun_mc", input_sigma=0.3, n_samples=4, seed=1))
    noisy.fit(h, y, net.head)
    torch.testing.assert_close(noisy.score_inputs(net, x), noisy.score_inputs(net, x))  # seeded
    assert not torch.allclose(noisy.score_inputs(net, x), react.score(h, net.head))


def test_react_clips_at_percentile(tiny) -> None:
    h, head = tiny["features"], tiny["head"]
    shaping = get_shaping("react", percentile=95)
    shaping.fit(h, head)
    shaped, _ = shaping.apply(h, head)
    assert shaped.max() == pytest.approx(float(np.percentile(h.numpy(), 95)), rel=1e-5)
    assert torch.equal(shaped[h < shaping.threshold], h[h < shaping.threshold])


def test_ash_variants() -> None:
    h = torch.rand(5, 20) + 0.1
    kept_p, _ = get_shaping("ash_p", percentile=75).apply(h, None)
    assert torch.all((kept_p > 0).sum(dim=1) == 5)
    top = h.topk(5, dim=1).values
    torch.testing.assert_close(kept_p.topk(5, dim=1).values, top)
    binar, _ = get_shaping("ash_b", percentile=75).apply(h, None)
    torch.testing.assert_close(binar.sum(dim=1), h.sum(dim=1))
    assert torch.all((binar > 0).sum(dim=1) == 5)
    scaled, _ = get_shaping("ash_s", percentile=75).apply(h, None)
    s1, s2 = h.sum(dim=1), top.sum(dim=1)
    torch.testing.assert_close(scaled.sum(dim=1), s2 * torch.exp(s1 / s2))


def test_dice_zeroes_the_low_contribution_weights(tiny) -> None:
    h, head = tiny["features"], tiny["head"]
    shaping = get_shaping("dice", sparsity=75)
    shaping.fit(h, head)
    same_h, sparse = shaping.apply(h, head)
    assert same_h is h
    zero = sparse.weight == 0
    assert zero.float().mean() == pytest.approx(0.75, abs=1 / 64)
    contribution = head.weight * h.mean(dim=0)
    assert contribution[~zero].min() > contribution[zero].max()
    torch.testing.assert_close(sparse.bias, head.bias)


def test_bats_truncates_to_id_range(tiny) -> None:
    h, head = tiny["features"], tiny["head"]
    shaping = get_shaping("bats", lam=0.5)
    shaping.fit(h, head)
    low, high = h.mean(0) - 0.5 * h.std(0), h.mean(0) + 0.5 * h.std(0)
    shaped, _ = shaping.apply(h * 3, head)
    assert torch.all(shaped <= high + 1e-6) and torch.all(shaped >= low - 1e-6)
    inside = (h * 3 >= low) & (h * 3 <= high)
    torch.testing.assert_close(shaped[inside], (h * 3)[inside])


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("react", {"percentile": 0}, "percentile must lie"),
        ("ash_p", {"percentile": 100}, "percentile must lie"),
        ("dice", {"sparsity": 100}, "sparsity must lie"),
        ("bats", {"lam": 0}, "lam must be positive"),
        ("actfun", {"sigma": -1}, "sigma must be >= 0"),
    ],
)
def test_bad_parameters(tiny, name: str, params: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        get_shaping(name, **params).fit(tiny["features"], tiny["head"])


def test_cap_is_the_exact_percentile_of_the_whole_tensor() -> None:
    # D = 2048 is divisible by the old every-k-th stride (2 at 16,400 x 2048): with the even and
    # odd channels on different scales, a strided subsample sees one scale only.
    gen = torch.Generator().manual_seed(0)
    scale = torch.tensor([1.0, 3.0]).repeat(1024)
    h = torch.rand(1025, 2048, generator=gen) * scale
    ref = float(np.percentile(h.numpy(), 90))
    strided = float(np.percentile(h.reshape(-1)[::2].numpy(), 90))
    assert abs(strided - ref) > 0.05 * ref  # the case the strided cap got wrong
    head = torch.nn.Linear(2048, 3)
    for name in ("react", "actfun"):
        shaping = get_shaping(name, percentile=90)
        shaping.fit(h, head)
        assert shaping.threshold == pytest.approx(ref, rel=1e-6), name
    dice = get_shaping("dice", sparsity=70)
    dice.fit(h, head)
    contribution = (head.weight * h.mean(dim=0)).detach().numpy()
    assert torch.equal(
        dice.mask.bool(), torch.from_numpy(contribution > np.percentile(contribution, 70))
    )


@pytest.mark.parametrize("value", [0.9, 0.05, 1])
@pytest.mark.parametrize(
    ("name", "param"),
    [
        ("react", "percentile"),
        ("actfun", "percentile"),
        ("ash_s", "percentile"),
        ("dice", "sparsity"),
    ],
)
def test_fraction_percentiles_are_refused(name: str, param: str, value: float) -> None:
    message = (
        f"{param}={value:g} looks like a fraction; cibr_lab takes percents in (1, 100), e.g. 90"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        get_shaping(name, **{param: value})


@pytest.mark.parametrize(
    ("value", "ok"), [(-5, False), (0, False), (1.01, True), (99.9, True), (100, False)]
)
def test_percent_range_is_open_one_to_hundred(value: float, ok: bool) -> None:
    for name in ("react", "actfun_mc", "ash_b"):
        if ok:
            assert get_shaping(name, percentile=value).percentile == value
        else:
            with pytest.raises(
                ValueError,
                match=rf"^percentile must lie in \(1, 100\) \(a percent\), got {value:g}$",
            ):
                get_shaping(name, percentile=value)
