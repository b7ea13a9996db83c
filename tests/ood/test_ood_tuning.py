import pytest
import torch

from cibr_lab.ood import get_scorer, get_shaping, ood_metrics
from cibr_lab.ood.tuning import tune_shaping


def test_picks_the_grid_point_with_the_best_validation_auroc(tiny) -> None:
    h, y, head = tiny["features"], tiny["labels"], tiny["head"]
    gen = torch.Generator().manual_seed(3)
    val_id = h[:100]
    val_ood = (torch.rand(80, 16, generator=gen) * 3).relu()
    grid = {"percentile": [60, 90], "sigma": [0.0, 0.5, 2.0]}
    params, auroc = tune_shaping("energy", "actfun", (h, y), val_id, val_ood, head, grid)
    manual = {}
    for p in grid["percentile"]:
        for s in grid["sigma"]:
            scorer = get_scorer("energy", get_shaping("actfun", percentile=p, sigma=s)).fit(
                h, y, head
            )
            manual[(p, s)] = ood_metrics(scorer.score(val_id, head), scorer.score(val_ood, head))[
                "auroc"
            ]
    best = max(manual, key=manual.get)
    assert auroc == pytest.approx(manual[best])
    assert manual[(params["percentile"], params["sigma"])] == pytest.approx(auroc)


def test_default_grid_comes_from_methods_yaml_and_none_has_no_grid(tiny) -> None:
    h, y, head = tiny["features"], tiny["labels"], tiny["head"]
    params, _ = tune_shaping("msp", "react", (h, y), h[:50], h[50:] * 3, head)
    assert params["percentile"] in (85, 90, 95, 99)
    with pytest.raises(ValueError, match="shaping 'none' has no sweep grid"):
        tune_shaping("msp", "none", (h, y), h[:50], h[50:], head)
