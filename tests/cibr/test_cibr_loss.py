"""CIBRLoss: ClipLoss equality at lambda = 0, the ceb bound, mine gradient routing, errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from open_clip.loss import ClipLoss
from torch.distributions import Independent, Normal, kl_divergence

from cibr_lab.cibr import CIBRLoss
from cibr_lab.cibr.estimators import CEBEstimator, gaussian_kl
from cibr_lab.info import donsker_varadhan

torch.set_num_threads(1)


def _features(n: int = 12, d: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    img = F.normalize(torch.randn(n, d, generator=gen), dim=-1)
    txt = F.normalize(img + 0.7 * torch.randn(n, d, generator=gen), dim=-1)
    return img.requires_grad_(), txt.requires_grad_()


@pytest.mark.parametrize("estimator", ["ceb", "mine"])
def test_lambda_zero_equals_cliploss_value_and_gradients(estimator):
    img, txt = _features()
    scale = torch.tensor(7.0, requires_grad=True)
    ref = ClipLoss()(img, txt, scale, output_dict=True)["contrastive_loss"]
    ref_grads = torch.autograd.grad(ref, (img, txt, scale))
    out = CIBRLoss(0.0, estimator, embed_dim=8)(img, txt, scale, output_dict=True)
    total = sum(out.values())
    grads = torch.autograd.grad(total, (img, txt, scale))
    assert set(out) == {"contrastive_loss", "cibr_loss"}
    assert torch.equal(total, ref)
    for g, r in zip(grads, ref_grads, strict=True):
        assert torch.equal(g, r)


def test_gaussian_kl_matches_torch_distributions():
    gen = torch.Generator().manual_seed(1)
    mu_q, mu_p = torch.randn(5, 6, generator=gen), torch.randn(5, 6, generator=gen)
    sq, sp = torch.tensor(0.3), torch.tensor(0.7)
    ref = kl_divergence(Independent(Normal(mu_q, sq), 1), Independent(Normal(mu_p, sp), 1))
    torch.testing.assert_close(gaussian_kl(mu_q, sq, mu_p, sp), ref)


def test_ceb_at_initialisation_is_the_alignment_term():
    """Identity predictors and equal scales: R_v = R_t = (1 - cos) / sigma^2 on the sphere."""
    img, txt = _features()
    sigma = 0.4
    est = CEBEstimator(8, sigma=sigma)
    out = est(img, txt)
    align = ((1 - (img * txt).sum(-1)) / sigma**2).mean()
    torch.testing.assert_close(out["R_v"], align)
    torch.testing.assert_close(out["penalty"], 2 * align)


def _gaussian_channel(n: int, d: int, tau: float, gen: torch.Generator):
    x_t = torch.randn(n, d, generator=gen)
    x_v = x_t + tau * torch.randn(n, d, generator=gen)
    return x_v, x_t


def test_ceb_is_tight_with_the_optimal_backward_model():
    """X_v = X_t + tau e, Z_v = X_v + sigma e': I(Z_v; X_v | X_t) = d/2 log(1 + tau^2/sigma^2)."""
    d, tau, sigma = 4, 0.5, 0.25
    x_v, x_t = _gaussian_channel(20000, d, tau, torch.Generator().manual_seed(2))
    est = CEBEstimator(d, sigma=sigma)
    with torch.no_grad():
        est.log_std_backward.fill_(0.5 * math.log(tau**2 + sigma**2))
        r_v = est(x_v, x_t)["R_v"]
    exact = 0.5 * d * math.log(1 + tau**2 / sigma**2)
    assert abs(float(r_v) - exact) < 0.03 * exact


def test_ceb_fitted_backward_model_stays_above_the_exact_value():
    """Minimising the bound over g and s_b from a wrong start approaches, not crosses, the truth."""
    d, tau, sigma = 4, 0.5, 0.25
    gen = torch.Generator().manual_seed(3)
    torch.manual_seed(3)
    est = CEBEstimator(d, sigma=sigma, hidden=16)
    with torch.no_grad():
        est.log_std_backward.fill_(math.log(2.0))
    opt = torch.optim.Adam(est.parameters(), lr=0.03)
    for _ in range(300):
        x_v, x_t = _gaussian_channel(256, d, tau, gen)
        loss = est(x_v, x_t)["penalty"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    x_v, x_t = _gaussian_channel(20000, d, tau, gen)
    with torch.no_grad():
        r_v = float(est(x_v, x_t)["R_v"])
    exact = 0.5 * d * math.log(1 + tau**2 / sigma**2)
    assert exact - 0.05 < r_v < exact * 1.1


def test_mine_value_is_the_dv_difference_and_gradients_are_routed():
    img, txt = _features(n=16)
    lam = 0.3
    loss = CIBRLoss(lam, "mine", embed_dim=8, estimator_kwargs={"sigma": 0.2})
    torch.manual_seed(5)
    out = loss(img, txt, torch.tensor(5.0), output_dict=True)
    torch.manual_seed(5)
    z_v = img.detach() + 0.2 * torch.randn_like(img)
    z_t = txt.detach() + 0.2 * torch.randn_like(txt)
    critics = loss.estimator.critics
    with torch.no_grad():
        r_v = donsker_varadhan(critics["own_v"](z_v, img)) - donsker_varadhan(
            critics["cross_v"](z_v, txt)
        )
        r_t = donsker_varadhan(critics["own_t"](z_t, txt)) - donsker_varadhan(
            critics["cross_t"](z_t, img)
        )
    torch.testing.assert_close(out["cibr_loss"], lam * (r_v + r_t))
    critic_params = list(critics.parameters())
    g_pen = torch.autograd.grad(out["cibr_loss"], [img, *critic_params], allow_unused=True)
    assert g_pen[0].abs().sum() > 0
    assert all(g is None or g.abs().sum() == 0 for g in g_pen[1:])
    g_aux = torch.autograd.grad(out["cibr_aux_loss"], [img, *critic_params], allow_unused=True)
    assert g_aux[0] is None
    assert sum(g.abs().sum() for g in g_aux[1:]) > 0


def test_ceb_predictors_receive_gradients():
    img, txt = _features()
    loss = CIBRLoss(0.5, "ceb", embed_dim=8)
    out = loss(img, txt, torch.tensor(5.0), output_dict=True)
    sum(out.values()).backward()
    assert loss.estimator.log_std_backward.grad.abs().sum() > 0
    assert loss.estimator.predict_image.out.weight.grad.abs().sum() > 0
    assert set(loss.last_stats) == {"R_v", "R_t"}


def test_bad_inputs_raise_clear_errors():
    img, txt = _features()
    loss = CIBRLoss(0.1, "ceb", embed_dim=8)
    with pytest.raises(ValueError, match="same shape"):
        loss(img, txt[:5], torch.tensor(5.0))
    with pytest.raises(ValueError, match="same shape"):
        loss(img[0], txt[0], torch.tensor(5.0))
    bad = img.detach().clone()
    bad[3, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite values in image features"):
        loss(bad, txt, torch.tensor(5.0))
    with pytest.raises(ValueError, match="NaN or infinite values in logit_scale"):
        loss(img, txt, torch.tensor(float("inf")))
    with pytest.raises(KeyError, match="valid estimators: ceb, mine"):
        CIBRLoss(0.1, "vib", embed_dim=8)
    with pytest.raises(ValueError, match="lam must be a non-negative"):
        CIBRLoss(-1.0, embed_dim=8)
    with pytest.raises(ValueError, match="sigma must be positive"):
        CIBRLoss(0.1, "mine", embed_dim=8, estimator_kwargs={"sigma": 0.0})
