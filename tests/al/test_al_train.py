"""Training: schedule, SWA average and batch-norm recomputation, MMD alignment, errors."""

import pytest
import torch
from torch import nn

from cibr_lab.al.nets import ALNet, get_net
from cibr_lab.al.train import TrainConfig, accuracy, lr_schedule, train
from cibr_lab.errors import ConfigError
from cibr_lab.info import mmd2

CPU = torch.device("cpu")


def _blobs(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 2, generator=g) + 3 * y[:, None].float()
    return x, y


def test_step_schedule_matches_closed_form():
    cfg = TrainConfig(steps=10, lr=1.0, lr_min=0.5, swa=True, swa_lr=2.0, swa_lr_min=0.2,
                      n_snapshots=3, cycle_steps=4)  # fmt: skip
    lr = lr_schedule(cfg)
    assert lr.shape == (cfg.total_steps,) == (10 + 3 * 4,)
    for t in range(10):  # base phase: linear from lr towards lr_min
        assert lr[t] == pytest.approx(1.0 - 0.5 * t / 10)
    for k in range(3):  # each cycle: swa_lr - (swa_lr - swa_lr_min) * (i + 1) / cycle_steps
        for i in range(4):
            assert lr[10 + 4 * k + i] == pytest.approx(2.0 - 1.8 * (i + 1) / 4)
    # every cycle restarts above the base lr, and its last step (the snapshot) is at swa_lr_min
    starts = [10 + 4 * k for k in range(3)]
    assert all(lr[s] > cfg.lr for s in starts)
    assert cfg.cycle_ends() == [13, 17, 21] and all(
        lr[e] == pytest.approx(0.2) for e in [13, 17, 21]
    )
    plain = TrainConfig(steps=7, lr=0.3)
    assert plain.cycle_ends() == [] and lr_schedule(plain).tolist() == [0.3] * 7


def test_same_steps_for_every_labelled_set_size():
    # the step count is fixed by the recipe, not by the labelled-set size
    seen = []
    for n in (6, 40):
        x, y = _blobs(n)
        net = get_net("mlp", (2,), 2, hidden=4)
        calls = []
        net.register_forward_hook(lambda *a, c=calls: c.append(1))
        cfg = TrainConfig(steps=12, batch_size=8, swa=True, swa_lr=0.01, n_snapshots=3,
                          cycle_steps=5)  # fmt: skip
        learner = train(net, x, y, x, cfg, CPU, torch.Generator().manual_seed(0))
        seen.append(len(calls))
        assert len(learner.snapshots) == 3
    assert seen == [12 + 15, 12 + 15]


def test_learns_separable_blobs():
    x, y = _blobs()
    torch.manual_seed(0)
    net = get_net("mlp", (2,), 2, hidden=16)
    cfg = TrainConfig(steps=120, batch_size=16, lr=0.01)
    learner = train(net, x, y, x, cfg, CPU, torch.Generator().manual_seed(0))
    assert accuracy(learner, x, y) > 0.95


def test_swa_model_is_snapshot_average_with_recomputed_bn():
    x, y = _blobs(32)
    torch.manual_seed(0)
    body = nn.Sequential(nn.Linear(2, 6), nn.BatchNorm1d(6), nn.ReLU())
    net = ALNet(body, 6, 2, dropout=0.0)
    cfg = TrainConfig(steps=12, batch_size=8, lr=0.01, swa=True, n_snapshots=3, cycle_steps=4,
                      swa_lr=0.05, swa_lr_min=0.01)  # fmt: skip
    learner = train(net, x, y, x, cfg, CPU, torch.Generator().manual_seed(0))
    assert len(learner.snapshots) == 3
    for name, p in learner.model.named_parameters():
        snaps = torch.stack([dict(s.named_parameters())[name] for s in learner.snapshots])
        torch.testing.assert_close(p, snaps.mean(0))
    lin, bn = learner.model.body[0], learner.model.body[1]
    with torch.no_grad():
        pre = lin(x)
    torch.testing.assert_close(bn.running_mean, pre.mean(0), rtol=1e-4, atol=1e-5)
    # update_bn averages the per-batch (unbiased) variances of the 4 labelled batches of 8
    batch_var = pre.reshape(4, 8, 6).var(1, unbiased=True).mean(0)
    torch.testing.assert_close(bn.running_var, batch_var, rtol=1e-4, atol=1e-5)
    # snapshots differ from each other (a trajectory, not copies)
    w = [s.head.weight for s in learner.snapshots]
    assert not torch.equal(w[0], w[1])


def test_mmd_term_aligns_labeled_and_unlabeled_features():
    # labelled points come from one corner of the input space; the pool covers all of it
    g = torch.Generator().manual_seed(0)
    xu = torch.randn(400, 2, generator=g) * 2
    xl = xu[(xu[:, 0] > 0.5) & (xu[:, 1] > -1)][:40]
    yl = (xl[:, 1] > 1).long()
    out = {}
    for w in (0.0, 5.0):
        torch.manual_seed(0)
        net = get_net("mlp", (2,), 2, hidden=16, dropout=0.0)
        cfg = TrainConfig(steps=80, batch_size=20, lr=0.01, mmd_weight=w)
        learner = train(net, xl, yl, xu, cfg, CPU, torch.Generator().manual_seed(0))
        out[w] = float(mmd2(learner.features(xl), learner.features(xu)))
    assert out[5.0] < 0.5 * out[0.0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"steps": 0}, "train steps must be an int >= 1, got 0"),
        ({"steps": 2.5}, "train steps must be an int >= 1, got 2.5"),
        ({"batch_size": 1}, "train batch_size must be an int >= 2, got 1"),
        ({"lr": 0.1, "lr_min": 0.2},
         "train lr must be > 0 and lr_min in (0, lr], got lr 0.1, lr_min 0.2"),
        ({"mmd_weight": -1}, "train mmd_weight must be >= 0, got -1"),
        ({"swa": True, "cycle_steps": 0}, "train cycle_steps must be an int >= 1 with swa, got 0"),
        ({"swa": True, "n_snapshots": 0}, "train n_snapshots must be an int >= 1 with swa, got 0"),
        ({"swa": True, "lr": 0.01, "swa_lr": 0.01},
         "train swa_lr (0.01) must exceed the base lr (0.01): each trajectory cycle restarts "
         "above the base rate"),
        ({"swa": True, "swa_lr": 0.01, "swa_lr_min": 0.02},
         "train swa_lr_min must be in (0, swa_lr = 0.01], got 0.02"),
        ({"optimizer": "lbfgs"}, "unknown optimizer 'lbfgs'; valid optimizers: adam, sgd"),
    ],
)  # fmt: skip
def test_config_errors_name_the_key(kwargs, message):
    with pytest.raises(ConfigError) as err:
        TrainConfig(**kwargs)
    assert str(err.value) == message


def test_train_input_errors():
    x, y = _blobs(8)
    with pytest.raises(ValueError, match="2 inputs and 3 labels"):
        train(get_net("mlp", (2,), 2), x[:2], y[:3], x, TrainConfig(), CPU, torch.Generator())
