import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from cibr_lab.ood import ood_metrics


def _sklearn(pos: np.ndarray, neg: np.ndarray) -> dict[str, float]:
    y = np.r_[np.ones(pos.size), np.zeros(neg.size)]
    s = np.r_[pos, neg]
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    return {
        "auroc": roc_auc_score(y, s),
        "aupr_in": average_precision_score(y, s),
        "aupr_out": average_precision_score(1 - y, -s),
        "fpr95": fpr[np.argmax(tpr >= 0.95)],
    }


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("rounded", [False, True])
def test_agrees_with_sklearn(seed: int, rounded: bool) -> None:
    rng = np.random.default_rng(seed)
    pos = rng.normal(1.0, 1.0, size=rng.integers(5, 400))
    neg = rng.normal(0.0, 1.5, size=rng.integers(5, 400))
    if rounded:  # many ties, also across the two sets
        pos, neg = np.round(pos, 1), np.round(neg, 1)
    ours, ref = ood_metrics(pos, neg), _sklearn(pos, neg)
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=1e-6), key


def test_perfect_and_reversed_and_all_tied() -> None:
    assert ood_metrics([2.0, 3.0], [0.0, 1.0]) == {
        "auroc": 1.0,
        "aupr_in": 1.0,
        "aupr_out": 1.0,
        "fpr95": 0.0,
    }
    reversed_ = ood_metrics([0.0, 1.0], [2.0, 3.0])
    assert reversed_["auroc"] == 0.0 and reversed_["fpr95"] == 1.0
    tied = ood_metrics(np.zeros(10), np.zeros(30))
    assert tied["auroc"] == pytest.approx(0.5) and tied["aupr_in"] == pytest.approx(0.25)


def test_torch_inputs() -> None:
    pos, neg = torch.randn(50) + 1, torch.randn(70)
    assert ood_metrics(pos, neg) == ood_metrics(pos.numpy(), neg.numpy())


@pytest.mark.parametrize(
    ("pos", "neg", "match"),
    [
        ([], [1.0], "id_scores is empty"),
        ([1.0], [], "ood_scores is empty"),
        ([1.0, np.nan], [0.0], "id_scores holds 1 NaN"),
        ([1.0], [np.inf, -np.inf], "ood_scores holds 2 NaN or infinite"),
        ([[1.0]], [0.0], "1-D"),
    ],
)
def test_bad_input(pos, neg, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ood_metrics(np.asarray(pos, dtype=float), np.asarray(neg, dtype=float))
