import numpy as np
import pytest
import torch
from scipy.special import logsumexp, softmax
from sklearn.covariance import EmpiricalCovariance
from sklearn.neighbors import NearestNeighbors
from torch import nn

from cibr_lab.ood import SCORES, SHAPINGS, get_scorer, get_shaping, method_grid
from cibr_lab.ood.scores.gradnorm import gradnorm_autograd


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()


def test_logit_scores_match_numpy(tiny) -> None:
    h, head = tiny["features"], tiny["head"]
    z = _np(head(h))
    ref = {
        "msp": softmax(z, axis=1).max(axis=1),
        "maxlogit": z.max(axis=1),
        "energy": logsumexp(z, axis=1),
    }
    for name, expected in ref.items():
        np.testing.assert_allclose(_np(get_scorer(name).score(h, head)), expected, rtol=1e-5)
    t = 3.0
    energy_t = get_scorer("energy", temperature=t).score(h, head)
    np.testing.assert_allclose(_np(energy_t), t * logsumexp(z / t, axis=1), rtol=1e-5)


@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_gradnorm_closed_form_matches_autograd(tiny, temperature: float) -> None:
    h, head = tiny["features"].double(), tiny["head"].double()
    fast = get_scorer("gradnorm", temperature=temperature).score(h, head)
    slow = gradnorm_autograd(h, head, temperature)
    torch.testing.assert_close(fast, slow, rtol=1e-10, atol=0)


def test_mahalanobis_matches_sklearn(tiny) -> None:
    h, y, head = tiny["features"].double(), tiny["labels"], tiny["head"].double()
    x, yn = _np(h), y.numpy()
    means = np.stack([x[yn == c].mean(0) for c in range(4)])
    cov = EmpiricalCovariance(assume_centered=True).fit(x - means[yn])
    test = x[:50] + 0.3
    ref = -np.min([cov.mahalanobis(test - m) for m in means], axis=0)
    scorer = get_scorer("mahalanobis", chunk_size=7).fit(h, y, head)
    np.testing.assert_allclose(_np(scorer.score(torch.from_numpy(test), head)), ref, rtol=1e-6)


@pytest.mark.parametrize("k", [1, 5])
def test_knn_matches_sklearn(tiny, k: int) -> None:
    h, y, head = tiny["features"], tiny["labels"], tiny["head"]
    bank = _np(h) / np.linalg.norm(_np(h), axis=1, keepdims=True)
    query = torch.randn(30, 16).relu() + 0.01
    q = _np(query) / np.linalg.norm(_np(query), axis=1, keepdims=True)
    dist, _ = NearestNeighbors(n_neighbors=k).fit(bank).kneighbors(q)
    scorer = get_scorer("knn", k=k, chunk_size=8).fit(h, y, head)
    np.testing.assert_allclose(_np(scorer.score(query, head)), -dist[:, -1], rtol=1e-4, atol=1e-5)


def test_vim_matches_reference_recipe(tiny) -> None:
    h, y, head = tiny["features"].double(), tiny["labels"], tiny["head"].double()
    x, w, b = _np(h), _np(head.weight), _np(head.bias)
    u = -np.linalg.pinv(w) @ b
    cov = EmpiricalCovariance(assume_centered=True).fit(x - u).covariance_
    vals, vecs = np.linalg.eigh(cov)
    ns = vecs[:, np.argsort(-vals)[10:]]
    logits = x @ w.T + b
    alpha = logits.max(1).mean() / np.linalg.norm((x - u) @ ns, axis=1).mean()
    ref = logsumexp(logits, axis=1) - alpha * np.linalg.norm((x - u) @ ns, axis=1)
    scorer = get_scorer("vim", dim=10).fit(h, y, head)
    np.testing.assert_allclose(_np(scorer.score(h, head)), ref, rtol=1e-6)


def test_odin_without_noise_is_tempered_msp_and_noise_raises_confidence(tiny) -> None:
    net, x, h = tiny["net"], tiny["x"], tiny["features"]
    t = 10.0
    ref = softmax(_np(net.head(h)) / t, axis=1).max(axis=1)
    plain = get_scorer("odin", temperature=t, noise=0.0).score_inputs(net, x, batch_size=64)
    np.testing.assert_allclose(_np(plain), ref, rtol=1e-5)
    nudged = get_scorer("odin", temperature=t, noise=0.01).score_inputs(net, x, batch_size=64)
    assert (nudged >= plain - 1e-6).float().mean() > 0.95


def test_score_inputs_equals_cached_features(tiny) -> None:
    net, x, h, y = tiny["net"], tiny["x"], tiny["features"], tiny["labels"]
    scorer = get_scorer("energy", "react").fit(h, y, net.head)
    torch.testing.assert_close(
        scorer.score_inputs(net, x, batch_size=33), scorer.score(h, net.head)
    )


@pytest.mark.parametrize(  # the refused pairs: tests/ood/test_ood_grid.py
    ("score", "shaping"), method_grid(sorted(SCORES), sorted(set(SHAPINGS) - {"actfun_mc"}))
)
def test_every_score_composes_with_every_shaping(tiny, score: str, shaping: str) -> None:
    h, y, head = tiny["features"], tiny["labels"], tiny["head"]
    shaper = get_shaping(shaping)
    shaper.fit(h, head)
    shaped_h, shaped_head = shaper.apply(h, head)
    composed = get_scorer(score, shaper).fit(h, y, head).score(h[:20], head)
    direct = get_scorer(score).fit(shaped_h, y, shaped_head).score(shaped_h[:20], shaped_head)
    assert composed.shape == (20,)
    torch.testing.assert_close(composed, direct)


def test_errors(tiny) -> None:
    h, y, head = tiny["features"], tiny["labels"], tiny["head"]
    with pytest.raises(KeyError, match="unknown score 'nope'; valid names: msp, maxlogit"):
        get_scorer("nope")
    with pytest.raises(KeyError, match="unknown shaping 'relu'; valid names: none, react"):
        get_scorer("msp", "relu")
    with pytest.raises(
        KeyError, match="unknown parameter 'kk' for score 'knn'; valid: chunk_size, k"
    ):
        get_scorer("knn", kk=3)
    with pytest.raises(RuntimeError, match=r"mahalanobis\+react needs statistics"):
        get_scorer("mahalanobis", "react").score(h, head)
    with pytest.raises(RuntimeError, match="call fit"):
        get_scorer("msp", "actfun").score(h, head)
    with pytest.raises(
        ValueError, match="feature dimension 15 does not match the head's in_features 16"
    ):
        get_scorer("msp").score(h[:, :15], head)
    bad = h.clone()
    bad[3, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite"):
        get_scorer("energy").score(bad, head)
    bad[3, 2] = float("inf")
    with pytest.raises(ValueError, match="NaN or infinite"):
        get_scorer("knn").fit(bad, y, head)
    with pytest.raises(ValueError, match="features is empty"):
        get_scorer("energy").score(h[:0], head)
    with pytest.raises(ValueError, match="single-class"):
        get_scorer("mahalanobis").fit(h, torch.zeros_like(y), head)
    with pytest.raises(ValueError, match="labels must have shape"):
        get_scorer("mahalanobis").fit(h, y[:-1], head)
    with pytest.raises(TypeError, match="final nn.Linear"):
        get_scorer("msp").score(h, nn.Identity())
    with pytest.raises(ValueError, match="works on inputs"):
        get_scorer("msp", "actfun_mc").fit(h, y, head).score(h, head)


def test_odin_perturbation_closed_form_per_channel() -> None:
    torch.manual_seed(0)
    head = nn.Linear(3, 4).double()
    with torch.no_grad():
        head.weight[:, 1] = 0.0  # channel 1 gets an exactly zero gradient: sign_plus(0) = +1
    x = torch.randn(25, 3, dtype=torch.float64)
    t, eps, std = 7.0, 0.01, [0.25, 0.5, 2.0]
    odin = get_scorer("odin", temperature=t, noise=eps, input_std=std).score_method
    forward = lambda inputs: (inputs, head)  # noqa: E731 (identity features)
    w, b = _np(head.weight), _np(head.bias)
    z = (_np(x) @ w.T + b) / t
    p = softmax(z, axis=1)
    onehot = np.eye(4)[z.argmax(axis=1)]
    grad = (p - onehot) @ w / t  # d CE(argmax) / dx
    sign_plus = np.where(grad >= 0, 1.0, -1.0)
    expected = -eps * sign_plus / np.asarray(std)
    assert np.all(grad[:, 1] == 0) and np.all(expected[:, 1] == -eps / 0.5)
    np.testing.assert_allclose(_np(odin.perturb(forward, x)) - _np(x), expected, rtol=1e-12)
    nudged = x + torch.from_numpy(expected)
    ref = softmax((_np(nudged) @ w.T + b) / t, axis=1).max(axis=1)
    np.testing.assert_allclose(_np(odin.score_inputs(forward, x)), ref, rtol=1e-12)


def test_odin_std_broadcasts_over_image_channels_and_checks_them() -> None:
    head = nn.Linear(2, 3)
    forward = lambda inputs: (inputs.mean(dim=(2, 3)), head)  # noqa: E731
    x = torch.randn(4, 2, 5, 5)
    odin = get_scorer("odin", noise=0.1, input_std=[0.5, 0.25]).score_method
    step = (odin.perturb(forward, x) - x).abs()
    torch.testing.assert_close(step[:, 0], torch.full((4, 5, 5), 0.2))
    torch.testing.assert_close(step[:, 1], torch.full((4, 5, 5), 0.4))
    bad = get_scorer("odin", input_std=[0.5, 0.25, 0.1]).score_method
    with pytest.raises(ValueError, match=r"odin input_std has 3 channels, inputs of shape"):
        bad.perturb(forward, x)
    with pytest.raises(ValueError, match="odin input_std must be positive per channel"):
        get_scorer("odin", input_std=[0.5, 0.0])


def test_non_finite_head_is_named_before_any_work(tiny) -> None:
    h, y, net = tiny["features"], tiny["labels"], tiny["net"]
    for name in ("weight", "bias"):
        head = nn.Linear(16, 4)
        with torch.no_grad():
            getattr(head, name)[1] = float("nan" if name == "weight" else "inf")
        with pytest.raises(ValueError, match=rf"^head\.{name} holds NaN or infinite values$"):
            get_scorer("energy").score(h, head)
        with pytest.raises(ValueError, match=rf"^head\.{name} holds NaN or infinite values$"):
            get_scorer("knn").fit(h, y, head)
    with torch.no_grad():
        net.head.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"^head\.weight holds NaN or infinite values$"):
        get_scorer("odin").score_inputs(net, tiny["x"])


@pytest.mark.parametrize("score", ["energy", "knn", "mahalanobis", "vim"])
def test_features_are_cast_to_the_head_dtype(tiny, score: str) -> None:
    h, y, head = tiny["features"], tiny["labels"], tiny["head"]  # float32 head
    ref = get_scorer(score, "react").fit(h, y, head).score(h[:30], head)
    mixed = get_scorer(score, "react").fit(h.double(), y, head).score(h[:30].double(), head)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, ref)
    double_head = nn.Linear(16, 4).double()
    out = get_scorer(score).fit(h, y, double_head).score(h[:30], double_head)  # float32 features
    assert out.dtype == torch.float64


@pytest.mark.parametrize("score", ["knn", "mahalanobis"])
@pytest.mark.parametrize("size", [0, -3])
def test_chunk_size_below_one_is_refused(score: str, size: int) -> None:
    with pytest.raises(ValueError, match=rf"^{score} chunk_size must be >= 1, got {size}$"):
        get_scorer(score, chunk_size=size)


def test_batch_size_below_one_is_refused(tiny) -> None:
    with pytest.raises(ValueError, match=r"^batch_size must be >= 1, got 0$"):
        get_scorer("msp").score_inputs(tiny["net"], tiny["x"], batch_size=0)
