import importlib.util
import re
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "bench_ood.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_ood", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_smoke_run_prints_ratios_and_agreement(capsys: pytest.CaptureFixture[str]) -> None:
    _load().main(["--smoke", "--threads", "1", "--n", "24", "--n-extract", "8"])
    out = capsys.readouterr().out
    gradnorm = re.findall(
        r"^gradnorm .* speed-up (\d+)x, max relative difference (\S+)$", out, re.M
    )
    knn = re.findall(
        r"^knn .* sklearn NearestNeighbors .* speed-up ([\d.]+)x, max abs difference (\S+)$",
        out,
        re.M,
    )
    assert len(gradnorm) == 2 and len(knn) == 1, out
    for _, rel in gradnorm:  # batched closed form == per-sample autograd
        assert float(rel) < 1e-5
    assert float(knn[0][1]) < 1e-5  # ours == scikit-learn's k-th neighbour distance
    assert float(knn[0][0]) > 0
    assert re.search(r"^scoring 7 methods, .* speed-up [\d.]+x$", out, re.M), out
    assert len(re.findall(r"^extraction .* images/s$", out, re.M)) == 2, out
