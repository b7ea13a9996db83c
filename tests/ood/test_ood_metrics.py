import numpy as np
import pytest
import torch
from sklearn import metrics as skm
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from cibr_lab.ood import METRICS, ood_metrics


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


def _openood_v15(id_scores: np.ndarray, ood_scores: np.ndarray) -> dict[str, float]:
    """OpenOOD v1.5's ``compute_all_metrics``: label -1 marks OOD, the positive class, with
    confidence negated; ROC by ``roc_curve`` (default arguments), AUPR by ``auc(recall,
    precision)`` of ``precision_recall_curve``."""
    conf = np.r_[id_scores, ood_scores]
    label = np.r_[np.zeros(id_scores.size), -np.ones(ood_scores.size)]
    ood = (label == -1).astype(int)
    fpr, tpr, _ = skm.roc_curve(ood, -conf)
    precision_in, recall_in, _ = skm.precision_recall_curve(1 - ood, conf)
    precision_out, recall_out, _ = skm.precision_recall_curve(ood, -conf)
    return {
        "auroc": skm.auc(fpr, tpr),
        "fpr95_openood": fpr[np.argmax(tpr >= 0.95)],
        "aupr_in_trapz": skm.auc(recall_in, precision_in),
        "aupr_out_trapz": skm.auc(recall_out, precision_out),
    }


def _random_set(seed: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    high = {"random": 400, "tied": 400, "small": 8}[kind]
    pos = rng.normal(0.7, 1.0, size=rng.integers(1, high))
    neg = rng.normal(0.0, 1.3, size=rng.integers(1, high))
    if kind != "random":  # many ties, also across the two sets
        pos, neg = (
            np.round(pos, 1 if kind == "tied" else 0),
            np.round(neg, 1 if kind == "tied" else 0),
        )
    return pos, neg


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("kind", ["random", "tied", "small"])
def test_agrees_with_openood_v15(seed: int, kind: str) -> None:
    pos, neg = _random_set(seed, kind)
    ours, ref = ood_metrics(pos, neg), _openood_v15(pos, neg)
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=1e-12), key


def test_the_two_fpr95_conventions_in_closed_form() -> None:
    id_scores = np.arange(1.0, 21.0)  # 20 ID samples
    ood_scores = np.r_[np.full(18, -100.0), 5.0, 15.0]
    m = ood_metrics(id_scores, ood_scores)
    assert m["fpr95"] == 0.1  # keep ID >= 2 (19 of 20): OOD 5 and 15 are accepted
    assert m["fpr95_openood"] == 0.25  # reject OOD <= 5 (19 of 20): ID 1..5 are rejected


def test_tied_straight_run_takes_its_end_as_openood() -> None:
    # OOD-positive curve (lowest score first): 10 OOD alone, then 10 tie groups of one ID and
    # one OOD (a straight run from (10, 0) to (20, 10) in (OOD, ID) counts), then 10 ID. 95% OOD
    # recall (19 of 20) falls inside the run, at 9 ID; roc_curve's corners move it to the end.
    run = np.arange(10.0)
    id_scores = np.r_[run, np.full(10, 20.0)]
    ood_scores = np.r_[np.full(10, -5.0), run]
    assert ood_metrics(id_scores, ood_scores)["fpr95_openood"] == 0.5  # full curve: 0.45


def test_step_and_trapezoid_aupr_in_closed_form() -> None:
    m = ood_metrics([0.0, 2.0], [1.0])  # curve (R, P): (0.5, 1), (0.5, 0.5), (1, 2/3)
    assert m["aupr_in"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert m["aupr_in_trapz"] == pytest.approx(0.5 * 1 + 0.5 * (0.5 + 2 / 3) / 2)


def test_perfect_and_reversed_and_all_tied() -> None:
    assert ood_metrics([2.0, 3.0], [0.0, 1.0]) == {
        "auroc": 1.0,
        "aupr_in": 1.0,
        "aupr_out": 1.0,
        "fpr95": 0.0,
        "fpr95_openood": 0.0,
        "aupr_in_trapz": 1.0,
        "aupr_out_trapz": 1.0,
    }
    assert tuple(ood_metrics([1.0], [0.0])) == METRICS
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
