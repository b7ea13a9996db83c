"""The theory chapter's experiments against their exact values."""

from __future__ import annotations

import math

import open_clip
import pytest
import torch

from cibr_lab.errors import ConfigError
from cibr_lab.experiments import get_experiment, theory
from cibr_lab.experiments.ceb_infonce import ceb_as_reweighted_infonce, reweighted_infonce
from cibr_lab.experiments.implicit_ib import Arm, ib_arms, implicit_ib_metrics, toy_covariance
from cibr_lab.info import linear_encoder_terms
from cibr_lab.results import load_records
from cibr_lab.runtime import get_profile


def test_chain_rule_example_exact_values():
    table = theory.chain_rule_example(flip=0.1).set_index("encoder")
    hb = -(0.1 * math.log(0.1) + 0.9 * math.log(0.9))
    assert table["residual"].abs().max() < 1e-12
    assert math.isclose(table.loc["keep all (S, A)", "I(X_v;Z_v)"], math.log(4))
    assert math.isclose(table.loc["keep shared S", "I(Z_v;X_t)"], math.log(2) - hb)
    assert abs(table.loc["keep private A", "I(Z_v;X_t)"]) < 1e-12
    assert table.loc["constant"].drop("residual").abs().max() < 1e-12


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_ib_lagrangian_minimiser_depends_on_beta(beta):
    # for beta <= 1 both terms of I(Z;X_v|X_t) - (beta - 1) I(Z;X_t) are >= 0: the constant wins
    table = theory.chain_rule_example(flip=0.1).set_index("encoder")
    lagrangian = table["I(X_v;Z_v)"] - beta * table["I(Z_v;X_t)"]
    if beta <= 1:
        assert lagrangian.min() >= -1e-12 and abs(lagrangian["constant"]) < 1e-12
    else:
        assert lagrangian.idxmin() == "keep shared S" and lagrangian.min() < 0


def test_infonce_ceiling_lies_inside_its_sandwich():
    ceiling = theory.infonce_ceiling([8, 64], [0.5, 2.0, 8.0], dim=2, trials=40, seed=0)
    floors = theory.infonce_floors([8, 64], [0.5, 2.0, 8.0], dim=2, samples=40_000, seed=1)
    cells = theory.infonce_sandwich(ceiling, floors)
    assert len(cells) == 6 and (cells["floor"] < cells["upper"]).all()
    assert cells[["z_upper", "z_lower"]].max().max() < 3.0
    # an estimator biased low by half a nat breaks the lower side: the check can fail
    wrong = ceiling.assign(estimate=ceiling["estimate"] - 0.5)
    assert theory.infonce_sandwich(wrong, floors)["z_lower"].max() > 3.0


def test_ib_arms_separate_weight_decay_from_the_objective():
    cfg = get_profile("embedded").section("theory")
    arms = {a.name: a for a in ib_arms(cfg)}
    wd = cfg["ib_weight_decay"]
    assert wd > 0
    assert arms["clip"] == Arm("clip", 0.0, wd, True)
    assert arms["clip_no_wd"] == Arm("clip_no_wd", 0.0, 0.0, True)
    assert arms["wd_only"] == Arm("wd_only", 0.0, wd, False)
    assert [a.lam for a in arms.values() if a.name.startswith("ceb-")] == cfg["ib_lams"]
    assert all(a.weight_decay == wd for a in arms.values() if a.name.startswith("ceb-"))
    with pytest.raises(ConfigError, match=r"theory.ib_lam \(0.5\) must be one of theory.ib_lams"):
        ib_arms({**cfg, "ib_lam": 0.5})


def test_weight_decay_only_arm_shrinks_the_initial_weights_geometrically():
    cfg = get_profile("smoke").section("theory")
    kw = theory.implicit_ib_config(cfg)
    wd = 0.5
    df = theory.implicit_ib([Arm("wd_only", weight_decay=wd, contrastive=False)], seed=3, **kw)
    d = kw["shared"] + kw["nuisance"]
    gen = torch.Generator().manual_seed(3)
    w_v = torch.randn(kw["embed"], d, generator=gen) / math.sqrt(d)
    w_t = torch.randn(kw["embed"], d, generator=gen) / math.sqrt(d)
    cov = toy_covariance(kw["shared"], kw["nuisance"], kw["signal_noise"], kw["nuisance_scale"])
    shrink = (1 - kw["lr"] * wd) ** kw["steps"]
    expected = linear_encoder_terms(shrink * w_v, shrink * w_t, cov, kw["noise_std"])
    last = df.iloc[-1]
    assert math.isclose(last["redundancy"], expected["redundancy"], rel_tol=1e-4)
    assert math.isclose(last["relevance"], expected["relevance"], rel_tol=1e-4)


def test_lambda_sweep_trades_relevance_for_compression_on_the_smoke_toy():
    cfg = get_profile("smoke").section("theory")
    df = theory.implicit_ib(ib_arms(cfg), seed=0, **theory.implicit_ib_config(cfg))
    m = implicit_ib_metrics(df)
    redundancy = [m["redundancy_final_clip"]] + [
        m[f"redundancy_final_ceb-{x:g}"] for x in cfg["ib_lams"]
    ]
    assert redundancy == sorted(redundancy, reverse=True)  # more penalty, less redundancy
    assert m[f"relevance_final_ceb-{max(cfg['ib_lams']):g}"] < m["relevance_final_clip"]
    assert (df["compression"] - df["relevance"] - df["redundancy"]).abs().max() < 1e-9
    assert (df["shared"] <= df["relevance"] + 1e-9).all()  # data processing
    assert (df["ceb_bound"] - df["redundancy"] - df["ceb_gap"]).abs().max() < 1e-8
    assert min(v for k, v in m.items() if k.startswith("ceb_excess_min_")) > 0


def test_ceb_penalty_is_infonce_with_a_reweighted_positive_logit():
    out = ceb_as_reweighted_infonce(32, 8, lam=0.5, sigma=0.25, logit_scale=10.0, seed=0)
    assert math.isclose(out["kappa"], 1 + 2 * 0.5 / (10.0 * 0.25**2))
    assert math.isclose(out["cibr"], out["reweighted"], rel_tol=1e-5)
    # kappa = 1 is open_clip's CLIP loss
    gen = torch.Generator().manual_seed(1)
    u, w = (torch.nn.functional.normalize(torch.randn(16, 4, generator=gen), dim=-1) for _ in "uw")
    clip = open_clip.ClipLoss()(u, w, torch.tensor(5.0))
    assert torch.allclose(reweighted_infonce(5.0 * u @ w.T, 1.0), clip, atol=1e-6)
    with pytest.raises(ValueError, match=r"logits must be a square N x N matrix, got \(2, 3\)"):
        reweighted_infonce(torch.ones(2, 3), 1.0)


def test_run_writes_one_record_per_experiment_and_seed():
    profile = get_profile("smoke", seeds=[0])
    tables = get_experiment("theory")(profile)
    assert set(tables) == {"ceiling", "bounds", "traces", "ib", "floors"}
    records = load_records(profile="smoke", chapter="theory")
    assert set(records["experiment"]) == {"infonce_ceiling", "trained_bounds", "implicit_ib"}
    by_experiment = records.groupby("experiment")["seed"].unique().map(set)
    assert by_experiment["infonce_ceiling"] == by_experiment["trained_bounds"] == {0}
    assert by_experiment["implicit_ib"] == set(profile.section("theory")["ib_seeds"])
    metrics = set(records["metric"])
    assert {"sandwich_max_z", "redundancy_change_clip_no_wd", "redundancy_final_ceb-3"} <= metrics


def test_unknown_chapter_lists_valid_ones():
    with pytest.raises(KeyError, match="valid chapters: al, cibr, ood, ood_imagenet, theory"):
        get_experiment("nope")
