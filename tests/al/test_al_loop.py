"""The loop: growth of the labelled set, resume after interruption gives the same result."""

import json

import numpy as np
import pytest
import torch

import cibr_lab.al.loop as loop
from cibr_lab.al.datasets import ALData
from cibr_lab.al.loop import Method, Protocol, run_active_learning
from cibr_lab.al.train import TrainConfig

CPU = torch.device("cpu")


def _data():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(120) % 3
    x = torch.randn(120, 4, generator=g) + 2 * torch.nn.functional.one_hot(y, 4).float()
    return ALData("toy", x[:90], y[:90], x[90:], y[90:], 3)


PROTOCOL = Protocol(n_initial=6, query_size=5, n_rounds=3, net="mlp", net_options={"hidden": 8})
METHOD = Method(
    "mpts",
    TrainConfig(
        steps=8,
        batch_size=8,
        lr=0.01,
        mmd_weight=0.5,
        swa=True,
        swa_lr=0.03,
        n_snapshots=2,
        cycle_steps=4,
    ),
)


def test_curve_shape_and_growth():
    hist = run_active_learning(_data(), METHOD, PROTOCOL, seed=0, device=CPU, progress=False)
    assert hist["round"].tolist() == [0, 1, 2, 3]
    assert hist["n_labels"].tolist() == [6, 11, 16, 21]
    assert hist["query_s"].iloc[:3].notna().all() and np.isnan(hist["query_s"].iloc[3])
    assert (hist["train_s"] > 0).all() and hist["accuracy"].between(0, 1).all()


def test_resume_after_interruption_matches_uninterrupted(tmp_path, monkeypatch):
    data = _data()
    full = run_active_learning(
        data, METHOD, PROTOCOL, seed=1, device=CPU, checkpoint=tmp_path / "a.json", progress=False
    )
    real_accuracy, calls = loop.accuracy, []

    def crash_in_round_2(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_accuracy(*args)

    monkeypatch.setattr(loop, "accuracy", crash_in_round_2)
    ckpt = tmp_path / "b.json"
    with pytest.raises(KeyboardInterrupt):
        run_active_learning(
            data, METHOD, PROTOCOL, seed=1, device=CPU, checkpoint=ckpt, progress=False
        )
    monkeypatch.setattr(loop, "accuracy", real_accuracy)
    resumed = run_active_learning(
        data, METHOD, PROTOCOL, seed=1, device=CPU, checkpoint=ckpt, progress=False
    )
    assert resumed["accuracy"].tolist() == full["accuracy"].tolist()
    assert resumed["n_labels"].tolist() == full["n_labels"].tolist()
    a = (tmp_path / "a.json").read_text()
    b = ckpt.read_text()
    assert json.loads(a)["labeled_order"] == json.loads(b)["labeled_order"]
    # a finished checkpoint is not re-run
    again = run_active_learning(
        data, METHOD, PROTOCOL, seed=1, device=CPU, checkpoint=ckpt, progress=False
    )
    assert again["train_s"].tolist() == resumed["train_s"].tolist()


def test_mpts_without_trajectory_fails_before_training(monkeypatch):
    monkeypatch.setattr(loop, "train", None)  # any training attempt would raise a TypeError
    with pytest.raises(ValueError, match="'mpts' needs trajectory snapshots: train with swa"):
        run_active_learning(
            _data(),
            Method("mpts", TrainConfig(steps=2)),
            PROTOCOL,
            seed=0,
            device=CPU,
            progress=False,
        )


def test_checkpoint_of_other_config_is_an_error(tmp_path):
    ckpt = tmp_path / "c.json"
    proto = Protocol(n_initial=6, query_size=5, n_rounds=1, net="mlp", net_options={"hidden": 8})
    method = Method("random", TrainConfig(steps=1, batch_size=8))
    run_active_learning(_data(), method, proto, seed=0, device=CPU, checkpoint=ckpt, progress=False)
    with pytest.raises(ValueError, match="different run configuration"):
        run_active_learning(
            _data(), method, proto, seed=1, device=CPU, checkpoint=ckpt, progress=False
        )


def test_separate_evaluation_recipe_scores_the_labelled_sets():
    # random picks do not depend on the model, so a random method trained with MMD but
    # evaluated with the plain recipe has exactly the plain random method's accuracy
    plain = TrainConfig(steps=8, batch_size=8, lr=0.01)
    mmd = TrainConfig(steps=8, batch_size=8, lr=0.01, mmd_weight=0.5)
    base = run_active_learning(_data(), Method("random", plain), PROTOCOL, 0, CPU, progress=False)
    judged = run_active_learning(
        _data(), Method("random", mmd, evaluation=plain), PROTOCOL, 0, CPU, progress=False
    )
    assert judged["accuracy"].tolist() == base["accuracy"].tolist()
    assert judged["own_accuracy"].tolist() != base["own_accuracy"].tolist()
    assert base["accuracy"].tolist() == base["own_accuracy"].tolist()
    assert not Method("random", plain, evaluation=plain).separate_evaluation
