"""Feature extraction and every OOD score with every shaping on the device, against the CPU."""

from __future__ import annotations

import copy
from typing import Any

import torch

from cibr_lab.gpucheck.context import CheckContext, exact_float32, scaled_max_diff
from cibr_lab.gpucheck.sync import no_host_sync
from cibr_lab.ood.features import extract
from cibr_lab.ood.models import small_cnn
from cibr_lab.ood.registry import get_scorer, method_grid
from cibr_lab.ood.scores import SCORES
from cibr_lab.ood.shapings import SHAPINGS

#: allowed :func:`scaled_max_diff` of device vs CPU: extraction runs in bf16 autocast on CUDA,
#: scoring in float32 (TF32 off) on the same CPU-extracted features or inputs
EXTRACT_TOL, SCORE_TOL = 5e-2, 1e-3


def ood_scores(ctx: CheckContext) -> dict[str, Any]:
    """Extract features of a random-weight CNN on CPU and device; fit and score every
    (score, shaping) pair of the grid (redundant pairs left out) on both, from cached features
    and from inputs; compare."""
    s, device = ctx.sizes, ctx.device
    torch.manual_seed(0)
    cpu_model = small_cnn(s.ood_classes, s.ood_width, s.ood_dim).eval()
    dev_model = copy.deepcopy(cpu_model).to(device)
    gen = torch.Generator().manual_seed(0)
    x_train = torch.randn(s.ood_train, 1, 28, 28, generator=gen)
    x_test = torch.randn(s.ood_test, 1, 28, 28, generator=gen)
    labels = torch.arange(s.ood_train) % s.ood_classes
    train, test = extract(cpu_model, x_train), extract(cpu_model, x_test)
    extract_diff = scaled_max_diff(extract(dev_model, x_test).features, test.features)
    f_train, f_test = train.features.to(device), test.features.to(device)
    x_dev = x_test.to(device)
    diffs: dict[str, dict[str, float]] = {}
    with exact_float32():
        for score, shaping in method_grid(list(SCORES), list(SHAPINGS)):
            cpu = get_scorer(score, shaping).fit(train.features, labels, cpu_model.head)
            dev = get_scorer(score, shaping).fit(f_train, labels, dev_model.head)
            name = dev.name
            pair = {}
            if not dev.shaping.input_level:
                want = cpu.score(test.features, cpu_model.head)
                pair["features"] = scaled_max_diff(dev.score(f_test, dev_model.head), want)
                with no_host_sync(f"ood {name} (features)", ctx.check_sync):
                    dev.score_validated(f_test, dev_model.head)
            want = cpu.score_inputs(cpu_model, x_test)
            pair["inputs"] = scaled_max_diff(dev.score_inputs(dev_model, x_test), want)
            with no_host_sync(f"ood {name} (inputs)", ctx.check_sync):
                dev.score_batch(dev_model, x_dev)
            diffs[name] = pair
    worst = {
        path: max((p[path] for p in diffs.values() if path in p), default=0.0)
        for path in ("features", "inputs")
    }
    bad = [f"{n} ({k} {v:.2g})" for n, p in diffs.items() for k, v in p.items() if v > SCORE_TOL]
    if extract_diff > EXTRACT_TOL:
        bad.insert(0, f"extraction ({extract_diff:.2g})")
    if bad:
        raise AssertionError(f"device differs from CPU beyond tolerance: {', '.join(bad)}")
    return {
        "pairs": len(diffs),
        "extract_max_diff": extract_diff,
        "features_max_diff": worst["features"],
        "inputs_max_diff": worst["inputs"],
        "diffs": diffs,
        "summary": f"{len(diffs)} pairs, max diff features {worst['features']:.1e}, "
        f"inputs {worst['inputs']:.1e}, extraction {extract_diff:.1e}",
    }
