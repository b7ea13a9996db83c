"""The theory chapter's experiments against their exact values."""

from __future__ import annotations

import math

import pytest

from cibr_lab.experiments import get_experiment, theory
from cibr_lab.results import load_records
from cibr_lab.runtime import get_profile


def test_chain_rule_example_exact_values():
    table = theory.chain_rule_example(flip=0.1).set_index("encoder")
    hb = -(0.1 * math.log(0.1) + 0.9 * math.log(0.9))
    assert table["residual"].abs().max() < 1e-12
    assert math.isclose(table.loc["keep all (S, A)", "I(X_v;Z_v)"], math.log(4))
    assert math.isclose(table.loc["keep shared S", "I(Z_v;X_t)"], math.log(2) - hb)
    assert abs(table.loc["keep private A", "I(Z_v;X_t)"]) < 1e-12


def test_infonce_ceiling_never_above_log_n():
    df = theory.infonce_ceiling([4, 32], [1.0, 8.0], dim=2, trials=3, seed=0)
    assert len(df) == 12
    assert (df["estimate"] <= df["batch_size"].map(math.log) + 1e-5).all()


def test_implicit_ib_traces_obey_the_chain_rule():
    cfg = theory.implicit_ib_config(get_profile("smoke").section("theory"))
    df = theory.implicit_ib(0.0, seed=0, **cfg)
    assert (df["compression"] - df["relevance"] - df["redundancy"]).abs().max() < 1e-9
    assert (df["shared"] <= df["relevance"] + 1e-9).all()  # data processing
    assert df["step"].iloc[-1] == cfg["steps"]


def test_run_writes_one_record_per_experiment_and_seed():
    profile = get_profile("smoke", seeds=[0])
    tables = get_experiment("theory")(profile)
    assert set(tables) == {"ceiling", "bounds", "traces", "ib"}
    records = load_records(profile="smoke", chapter="theory")
    assert set(records["experiment"]) == {"infonce_ceiling", "trained_bounds", "implicit_ib"}
    assert set(records["seed"]) == {0}


def test_unknown_chapter_lists_valid_ones():
    with pytest.raises(KeyError, match="valid chapters: al, cibr, ood, ood_imagenet, theory"):
        get_experiment("nope")
