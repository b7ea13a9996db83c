import itertools
import re

import pytest
import torch
from scipy.stats import rankdata

from cibr_lab.ood import SCORES, SHAPINGS, get_scorer, get_shaping, method_grid
from cibr_lab.ood.registry import redundant

FEATURE_SHAPINGS = [s for s in SHAPINGS if not SHAPINGS[s].input_level]


@pytest.fixture(scope="module")
def data() -> dict:
    gen = torch.Generator().manual_seed(0)
    n, d, c = 300, 24, 5
    scale = torch.rand(d, generator=gen, dtype=torch.float64) * 3
    h = (torch.randn(n, d, generator=gen, dtype=torch.float64) * scale + 0.5).relu()
    torch.manual_seed(0)
    head = torch.nn.Linear(d, c).double()
    test = torch.cat([h[:100], torch.randn(100, d, generator=gen, dtype=torch.float64).abs() * 2])
    return {"h": h, "y": torch.arange(n) % c, "head": head, "test": test}


def _scores(data: dict, score: str, shaping: str) -> torch.Tensor:
    """Scores of a pair, composed by hand (so refused pairs can be computed too)."""
    shaper = get_shaping(shaping)
    shaper.fit(data["h"], data["head"])
    h, head = shaper.apply(data["h"], data["head"])
    scorer = get_scorer(score).fit(h, data["y"], head)
    return scorer.score(*shaper.apply(data["test"], data["head"]))


def test_every_kept_pair_differs_from_unshaped_and_from_the_others(data) -> None:
    grid = method_grid(list(SCORES), FEATURE_SHAPINGS)
    assert len(grid) == len(SCORES) * len(FEATURE_SHAPINGS) - 3
    for score in SCORES:
        kept = {sh: _scores(data, score, sh) for sc, sh in grid if sc == score}
        assert "none" in kept
        for a, b in itertools.combinations(kept, 2):
            sa, sb = kept[a], kept[b]
            assert not torch.allclose(sa, sb), (score, a, b)
            # AUROC and FPR only see the ranking: it must differ too
            assert (rankdata(sa.numpy()) != rankdata(sb.numpy())).any(), (score, a, b)


@pytest.mark.parametrize(
    ("score", "shaping", "same_as"),
    [("mahalanobis", "dice", "none"), ("knn", "dice", "none"), ("knn", "ash_s", "ash_p")],
)
def test_refused_pairs_equal_their_twin_and_get_scorer_names_it(
    data, score: str, shaping: str, same_as: str
) -> None:
    assert redundant(score, shaping)["same_as"] == same_as
    torch.testing.assert_close(_scores(data, score, shaping), _scores(data, score, same_as))
    twin = score if same_as == "none" else f"{score}+{same_as}"
    message = f"{score}+{shaping} gives the scores of {twin} on any data ("
    with pytest.raises(ValueError, match=f"^{re.escape(message)}.*: use {re.escape(twin)}$"):
        get_scorer(score, shaping)
    with pytest.raises(ValueError, match=re.escape(message)):
        get_scorer(score, get_shaping(shaping))
    assert (score, shaping) not in method_grid([score], [shaping, same_as])


def test_grid_keeps_the_methods_the_claims_use() -> None:
    grid = method_grid(["gradnorm", "energy", "msp"], ["none", "actfun", "react"])
    for pair in [("gradnorm", "actfun"), ("gradnorm", "none"), ("energy", "actfun")]:
        assert pair in grid
    assert ("energy", "none") in grid and ("msp", "none") in grid and ("msp", "react") in grid
