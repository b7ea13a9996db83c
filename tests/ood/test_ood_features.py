import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from cibr_lab.ood.features import FeatureCache, extract
from cibr_lab.ood.models import small_cnn


def test_extract_matches_forward_for_tensors_and_loaders() -> None:
    torch.manual_seed(0)
    model = small_cnn(num_classes=3, width=4, feature_dim=8).eval()
    x, y = torch.rand(37, 1, 28, 28), torch.randint(0, 3, (37,))
    with torch.no_grad():
        ref_f, ref_l = model.features(x), model(x)
    a = extract(model, x, batch_size=10)
    torch.testing.assert_close(a.features, ref_f)
    torch.testing.assert_close(a.logits, ref_l)
    assert a.labels is None and len(a) == 37 and (a.features >= 0).all()
    b = extract(model, DataLoader(TensorDataset(x, y), batch_size=8))
    torch.testing.assert_close(b.features, ref_f)
    assert torch.equal(b.labels, y)


def test_extract_restores_training_mode_and_rejects_empty() -> None:
    model = small_cnn(num_classes=3, width=4, feature_dim=8).train()
    extract(model, torch.rand(4, 1, 28, 28))
    assert model.training
    with pytest.raises(ValueError, match="empty"):
        extract(model, torch.rand(0, 1, 28, 28))


def test_cache_computes_once_and_reloads_from_disk(tmp_path) -> None:
    model = small_cnn(num_classes=3, width=4, feature_dim=8).eval()
    x = torch.rand(9, 1, 28, 28)
    cache = FeatureCache(tmp_path)
    first = cache.get("m", "id_test", model, x)
    again = cache.get("m", "id_test", model, x)
    assert again is first and cache.misses == 1
    assert (tmp_path / "m" / "id_test.pt").exists()
    fresh = FeatureCache(tmp_path)
    reloaded = fresh.get("m", "id_test", model, x)
    assert fresh.misses == 0
    torch.testing.assert_close(reloaded.logits, first.logits)
