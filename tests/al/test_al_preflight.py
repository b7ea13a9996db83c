"""Infeasible active-learning setups fail with a message naming the problem, before training."""

import pytest
import torch

import cibr_lab.al.experiment as experiment
import cibr_lab.al.loop as loop
from cibr_lab.al.datasets import ALData
from cibr_lab.al.learner import Learner, MissingCapability
from cibr_lab.al.loop import Method, Protocol, run_active_learning
from cibr_lab.al.nets import get_net
from cibr_lab.al.pool import Pool
from cibr_lab.al.preflight import check_protocol, check_run
from cibr_lab.al.strategies import get_strategy
from cibr_lab.al.train import TrainConfig
from cibr_lab.errors import ConfigError

CPU = torch.device("cpu")
TRAIN = TrainConfig(steps=4, batch_size=8, swa=True, n_snapshots=2, cycle_steps=2)


def _data(n_pool=90, in_shape=(4,)):
    x = torch.randn(n_pool + 30, *in_shape, generator=torch.Generator().manual_seed(0))
    y = torch.arange(n_pool + 30) % 3
    return ALData("toy", x[:n_pool], y[:n_pool], x[n_pool:], y[n_pool:], 3)


def _protocol(n_initial=6, query_size=5, n_rounds=3, **net_options):
    return Protocol(n_initial, query_size, n_rounds, "mlp", {"hidden": 8, **net_options})


@pytest.fixture
def no_training(monkeypatch):
    """Any training attempt fails the test (the error under test must come first)."""

    def trained(*args, **kwargs):
        raise AssertionError("trained")

    monkeypatch.setattr(loop, "train", trained)


def _run(method, protocol, data=None):
    run_active_learning(data or _data(), method, protocol, seed=0, device=CPU, progress=False)


def test_infeasible_protocol_fails_before_training(no_training):
    with pytest.raises(
        ConfigError, match=r"^protocol needs 6 \+ 3 x 40 = 126 labels but the pool has 90 points$"
    ):
        _run(Method("random", TRAIN), _protocol(query_size=40))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("n_initial", 1, r"n_initial must be an int >= 2 \(training needs 2 labelled points\), "),
        ("query_size", 0, "query_size must be an int >= 1, got 0"),
        ("query_size", 2.5, "query_size must be an int >= 1, got 2.5"),
        ("n_rounds", -1, "n_rounds must be an int >= 0, got -1"),
        ("n_rounds", True, "n_rounds must be an int >= 0, got True"),
    ],
)
def test_bad_protocol_values_fail_before_training(no_training, field, value, message):
    with pytest.raises(ConfigError, match=f"^protocol {message}"):
        _run(Method("random", TRAIN), _protocol(**{field: value}))


def test_protocol_that_uses_the_whole_pool_is_feasible_but_not_with_mmd():
    exact = _protocol(query_size=28)  # 6 + 3 x 28 = 90: every point labelled in the last round
    check_protocol(exact, 90)
    with pytest.raises(
        ConfigError,
        match=r"mmd_weight 0.5\) needs at least 2 unlabelled points in every round, but the last "
        r"round leaves 90 - 89 = 1$",
    ):
        check_protocol(_protocol(n_initial=5, query_size=28), 90, mmd_weight=0.5)
    with pytest.raises(ConfigError, match="90 - 90 = 0"):
        check_protocol(exact, 90, mmd_weight=0.5)


def test_bald_on_a_net_without_dropout_fails_before_training(no_training):
    with pytest.raises(
        ConfigError,
        match=r"^strategy 'bald' draws MC-dropout passes, but net 'mlp' has no dropout layer "
        r"with p > 0",
    ):
        _run(Method("bald", TRAIN), _protocol(dropout=0.0))


def test_bald_dropout_check_reads_the_built_net():
    # resnet18's default dropout is 0: only net_options turn MC dropout on
    images = _data(in_shape=(3, 8, 8))
    resnet = Protocol(6, 5, 3, "resnet18")
    with pytest.raises(ConfigError, match="net 'resnet18' has no dropout layer"):
        check_run(Method("bald", TRAIN), resnet, images)
    check_run(Method("bald", TRAIN), Protocol(6, 5, 3, "resnet18", {"dropout": 0.3}), images)


def test_mpts_bald_over_one_snapshot_fails_before_training(no_training):
    one = TrainConfig(steps=4, batch_size=8, swa=True, n_snapshots=1, cycle_steps=2)
    with pytest.raises(
        ConfigError,
        match=r"^strategy 'mpts' with score 'bald' needs at least 2 trajectory snapshots, got 1: "
        r"BALD measures disagreement between snapshots and is identically zero over one$",
    ):
        _run(Method("mpts", one, {"score": "bald"}), _protocol())
    with pytest.raises(ConfigError, match="'mpts' needs trajectory snapshots: train with swa"):
        _run(Method("mpts", TrainConfig(steps=4), {"score": "bald"}), _protocol())
    check_run(Method("mpts", one), _protocol(), _data())  # the entropy score is fine with one


def test_mpts_bald_refuses_a_learner_with_one_snapshot():
    torch.manual_seed(0)
    make = lambda: get_net("mlp", (4,), 3, hidden=8).eval()  # noqa: E731
    learner = Learner(make(), CPU, [make()])
    with pytest.raises(MissingCapability, match="needs at least 2 trajectory snapshots, got 1"):
        get_strategy("mpts", score="bald").query(
            learner, _data().x_pool, Pool(90, [0, 1]), 3, torch.Generator()
        )


def test_bad_grid_fails_before_its_first_curve(tmp_path, monkeypatch, no_training):
    monkeypatch.setenv("CIBR_LAB_RESULTS", str(tmp_path))
    train = {"steps": 4, "batch_size": 8, "n_snapshots": 2, "cycle_steps": 2}
    digits = {
        "source": "digits",
        "net": "mlp",
        "net_options": {"hidden": 8, "dropout": 0.0},
        "test_size": 100,
        "n_initial": 10,
        "n_rounds": 2,
        "n_seeds": 2,
        "run_methods": ["random", "bald", "mpts"],
        "train": train,
    }
    settings = {
        "datasets": {
            "digits": {**digits, "pool_size": 60, "query_size": 10},
            # pool_size null: the pool is the whole of digits less the test set, 1797 - 100
            "whole": {**digits, "pool_size": None, "query_size": 1000},
        },
        "methods": {
            "random": {"strategy": "random"},
            "bald": {"strategy": "bald"},
            "mpts": {"strategy": "mpts", "mmd": True},
        },
        "tune_dataset": "digits",
        "validation_test_size": 20,
        "tune_steps": [4],
        "tune_lrs": [0.001],
        "tune_mmd_weights": [0.5],
        "tune_trajectories": [[2, 2]],
    }  # fmt: skip
    with pytest.raises(ConfigError) as err:
        experiment.run("smoke", seeds=[0, 1], device="cpu", overrides=settings)
    infeasible = "protocol needs 10 + 2 x 1000 = 2010 labels but the pool has 1697 points"
    assert str(err.value).splitlines() == [
        "4 of the 7 runs cannot work (none was started):",  # 1 tuning curve, 6 test curves
        "  digits-bald: strategy 'bald' draws MC-dropout passes, but net 'mlp' has no dropout "
        "layer with p > 0: give the net a dropout probability (net_options: {dropout: 0.3})",
        f"  whole-random: {infeasible}",
        f"  whole-bald: {infeasible}",
        f"  whole-mpts: {infeasible}",
    ]
