"""Training: schedule, SWA average and batch-norm recomputation, MMD alignment, errors."""

import pytest
import torch
from torch import nn

from cibr_lab.al.nets import ALNet, get_net
from cibr_lab.al.train import TrainConfig, _lr_at, accuracy, train
from cibr_lab.info import mmd2

CPU = torch.device("cpu")


def _blobs(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 2, generator=g) + 3 * y[:, None].float()
    return x, y


def test_cycle_ends_and_cyclic_lr():
    cfg = TrainConfig(epochs=10, swa=True, swa_start=0.6, n_snapshots=2, lr=1.0, swa_lr=0.5,
                      swa_lr_min=0.1)  # fmt: skip
    ends = cfg.cycle_ends()
    assert ends == [7, 9]
    assert _lr_at(cfg, 5, 0, 4, ends) == 1.0
    # epoch 6-7 form cycle 0 of 8 steps: linear from swa_lr towards swa_lr_min, last step at min
    assert _lr_at(cfg, 6, 0, 4, ends) == pytest.approx(0.5 - 0.4 / 8)
    assert _lr_at(cfg, 7, 3, 4, ends) == pytest.approx(0.1)
    assert _lr_at(cfg, 8, 0, 4, ends) == pytest.approx(0.5 - 0.4 / 8)
    assert TrainConfig(epochs=10).cycle_ends() == []


def test_learns_separable_blobs():
    x, y = _blobs()
    torch.manual_seed(0)
    net = get_net("mlp", (2,), 2, hidden=16)
    cfg = TrainConfig(epochs=30, batch_size=16, lr=0.01)
    learner = train(net, x, y, x, cfg, CPU, torch.Generator().manual_seed(0))
    assert accuracy(learner, x, y) > 0.95


def test_swa_model_is_snapshot_average_with_recomputed_bn():
    x, y = _blobs(32)
    torch.manual_seed(0)
    body = nn.Sequential(nn.Linear(2, 6), nn.BatchNorm1d(6), nn.ReLU())
    net = ALNet(body, 6, 2, dropout=0.0)
    cfg = TrainConfig(epochs=6, batch_size=8, lr=0.05, swa=True, swa_start=0.5, n_snapshots=3,
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
        cfg = TrainConfig(epochs=40, batch_size=20, lr=0.01, mmd_weight=w)
        learner = train(net, xl, yl, xu, cfg, CPU, torch.Generator().manual_seed(0))
        out[w] = float(mmd2(learner.features(xl), learner.features(xu)))
    assert out[5.0] < 0.5 * out[0.0]


def test_config_errors():
    with pytest.raises(ValueError, match="n_snapshots=6 needs"):
        TrainConfig(epochs=10, swa=True, swa_start=0.5, n_snapshots=6)
    with pytest.raises(KeyError, match="valid optimizers: adam, sgd"):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(ValueError, match="mmd_weight"):
        TrainConfig(mmd_weight=-1)
    x, y = _blobs(8)
    with pytest.raises(ValueError, match="2 inputs and 3 labels"):
        train(get_net("mlp", (2,), 2), x[:2], y[:3], x, TrainConfig(), CPU, torch.Generator())
