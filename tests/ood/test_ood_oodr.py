import base64
import re

import numpy as np
import pandas as pd
import pytest

from cibr_lab.ood.oodr import (
    committee_filter,
    contact_sheet_html,
    counts_per_dataset,
    precision_recall,
    select_committee,
    votes_table,
)


def _probs(top: list[list[int]], conf: list[list[float]], c: int = 3) -> np.ndarray:
    """[m, N, C] probabilities with the given top class and its probability."""
    top_a, conf_a = np.asarray(top).T, np.asarray(conf).T  # [m, N]
    out = np.broadcast_to(((1 - conf_a) / (c - 1))[..., None], (*top_a.shape, c)).copy()
    np.put_along_axis(out, top_a[..., None], conf_a[..., None], axis=2)
    return out


def test_k_of_m_rule_by_hand() -> None:
    # rows = images, columns = 3 annotators
    top = [[0, 0, 0], [0, 0, 1], [0, 1, 2], [2, 2, 2], [1, 1, 0]]
    conf = [[0.9] * 3, [0.9] * 3, [0.9] * 3, [0.9, 0.5, 0.5], [0.9, 0.6, 0.9]]
    result = committee_filter(_probs(top, conf), k=2, threshold=0.7)
    assert result.flagged.tolist() == [True, True, False, False, False]
    assert result.label.tolist() == [0, 0, -1, -1, -1]
    assert result.agreement.tolist() == [3, 2, 1, 1, 1]
    strict = committee_filter(_probs(top, conf), k=3, threshold=0.7)
    assert strict.flagged.tolist() == [True, False, False, False, False]
    lenient = committee_filter(_probs(top, conf), k=2, threshold=0.5)
    assert lenient.flagged.tolist() == [True, True, False, True, True]


def test_matches_loop_reference_on_random_votes() -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(5, 0.3), size=(4, 300))
    result = committee_filter(probs, k=3, threshold=0.6)
    for i in range(300):
        good = [int(p.argmax()) for p in probs[:, i] if p.max() >= 0.6]
        best = max(good.count(c) for c in range(5)) if good else 0
        assert result.flagged[i] == (best >= 3)


def test_precision_recall() -> None:
    flagged = np.array([1, 1, 0, 0, 1], bool)
    truth = np.array([1, 0, 1, 0, 1], bool)
    pr = precision_recall(flagged, truth)
    assert pr["precision"] == pytest.approx(2 / 3) and pr["recall"] == pytest.approx(2 / 3)
    assert np.isnan(precision_recall(np.zeros(3, bool), np.ones(3, bool))["precision"])
    with pytest.raises(ValueError, match="equal 1-D shapes"):
        precision_recall(flagged, truth[:3])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": 4, "threshold": 0.5}, r"k must lie in \[1, m=3\]"),
        ({"k": 2, "threshold": 1.5}, "threshold must lie"),
    ],
)
def test_bad_parameters(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        committee_filter(_probs([[0, 0, 0]], [[0.9] * 3]), **kwargs)


def test_bad_probs() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        committee_filter(np.zeros((3, 0, 4)), k=1, threshold=0.5)
    with pytest.raises(ValueError, match="summing to at most 1"):
        committee_filter(np.full((2, 3, 4), 0.5), k=1, threshold=0.5)
    with pytest.raises(ValueError, match="NaN"):
        committee_filter(np.full((2, 3, 4), np.nan), k=1, threshold=0.5)


def test_votes_table_counts_and_csv(tmp_path) -> None:
    top = [[0, 0, 0], [0, 1, 2], [2, 2, 1]]
    result = committee_filter(_probs(top, [[0.9] * 3] * 3), k=2, threshold=0.5)
    names = ["cat", "dog", "owl"]
    full = votes_table(result, "textures", ["a.png", "b.png", "c.png"], names, only_flagged=False)
    removed = votes_table(result, "textures", ["a.png", "b.png", "c.png"], names)
    assert removed["item"].tolist() == ["a.png", "c.png"]
    assert removed["class"].tolist() == ["cat", "owl"]
    assert removed[["vote_0", "vote_1", "vote_2"]].values.tolist()[1] == ["owl", "owl", "dog"]
    removed.to_csv(tmp_path / "removed.csv", index=False)
    assert (tmp_path / "removed.csv").read_text().startswith("dataset,item,flagged,class")
    other = full.assign(dataset="noise", flagged=False)
    counts = counts_per_dataset(pd.concat([full, other]))
    assert counts.set_index("dataset")["n_removed"].to_dict() == {"noise": 0, "textures": 2}
    assert counts.set_index("dataset")["removed_fraction"]["textures"] == pytest.approx(2 / 3)


def test_contact_sheet_is_self_contained(tmp_path) -> None:
    images = np.random.default_rng(0).random((3, 1, 28, 28))
    path = contact_sheet_html(images, ["a <b>", "b", "c"], tmp_path / "sheet.html", scale=2)
    text = path.read_text()
    payloads = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(payloads) == 3 and "http" not in text and "a &lt;b&gt;" in text
    png = base64.b64decode(payloads[0])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") == 56  # width after 2x upscaling
    with pytest.raises(ValueError, match="3 images for 2 captions"):
        contact_sheet_html(images, ["a", "b"], tmp_path / "x.html")


def test_select_committee_maximises_f1_on_a_constructed_case() -> None:
    # images 0-1 injected; image 2 a confusable OOD image that two annotators call class 1
    top = [[0, 0, 0], [2, 2, 1], [1, 1, 0], [0, 1, 2]]
    conf = [[0.95] * 3, [0.8, 0.8, 0.6], [0.6, 0.6, 0.9], [0.9] * 3]
    truth = np.array([True, True, False, False])
    k, threshold, f1 = select_committee(_probs(top, conf), truth, [1, 2, 3], [0.5, 0.7, 0.9])
    # k=2, threshold 0.7: flags 0 and 1 only (image 2's two votes are below 0.7)
    assert (k, threshold, f1) == (2, 0.7, 1.0)
    flagged = committee_filter(_probs(top, conf), k, threshold).flagged
    assert precision_recall(flagged, truth)["precision"] == 1.0
    # a lenient rule catches image 2 too: precision 2/3, recall 1
    lenient = committee_filter(_probs(top, conf), 2, 0.5).flagged
    stats = precision_recall(lenient, truth)
    assert stats["precision"] == pytest.approx(2 / 3) and stats["recall"] == 1.0


def test_select_committee_bad_inputs() -> None:
    probs = _probs([[0, 0]], [[0.9, 0.9]])
    with pytest.raises(ValueError, match="the committee grid is empty"):
        select_committee(probs, np.array([True]), [], [0.5])
    with pytest.raises(ValueError, match="hold no injected image"):
        select_committee(probs, np.array([False]), [1], [0.5])
    with pytest.raises(ValueError, match=r"truth has shape \(2,\)"):
        select_committee(probs, np.array([True, False]), [1], [0.5])
