import torch

from cibr_lab.ood.train import accuracy, load_or_train

SPEC = {"arch": "mlp", "hidden": 16}
TRAIN = {"epochs": 30, "lr": 0.01, "batch_size": 16}


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(64) % 2
    x = torch.rand(64, 1, 28, 28, generator=gen) * 0.2
    x[y == 1, :, :14] += 0.8  # class 1: bright top half
    return x, y


def test_trains_then_loads_the_same_checkpoint(tmp_path) -> None:
    data, path = _data(), tmp_path / "m.pt"
    model = load_or_train(path, SPEC, 2, data, TRAIN, seed=0, device=torch.device("cpu"))
    assert accuracy(model, *data) == 1.0 and not model.training
    stamp = path.stat().st_mtime_ns
    again = load_or_train(path, SPEC, 2, data, TRAIN, seed=0, device=torch.device("cpu"))
    assert path.stat().st_mtime_ns == stamp  # loaded, not retrained
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_changed_config_retrains(tmp_path) -> None:
    data, path = _data(), tmp_path / "m.pt"
    first = load_or_train(path, SPEC, 2, data, TRAIN, seed=0, device=torch.device("cpu"))
    other = load_or_train(path, SPEC, 2, data, TRAIN, seed=1, device=torch.device("cpu"))
    assert not torch.equal(first.head.weight, other.head.weight)
