"""OOD-R review outputs of a full-profile seed: removed files with votes, counts, contact sheet.

The full-profile twin of :func:`cibr_lab.ood.frames.review_outputs`: the OOD sets are loaders
over files, so the flagged images are read back from disk (unnormalised, shrunk to thumbnails)
and there is no injected ground truth column.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from cibr_lab.ood.experiment import SeedRun
from cibr_lab.ood.oodr import contact_sheet_html, counts_per_dataset, votes_table

THUMBNAIL = 64


def flagged_images(run: SeedRun, name: str, limit: int) -> torch.Tensor:
    """Up to ``limit`` flagged images of OOD set ``name`` as ``[K, 3, s, s]`` in [0, 1], with
    ``s = min(image size, THUMBNAIL)``, read from the set's dataset in file order."""
    dataset = run.bench.ood[name].images.dataset
    index = run.committees[name].flagged.nonzero()[0][:limit].tolist()
    protocol = run.bench.protocol
    size = min(protocol["image_size"], THUMBNAIL)
    if not index:
        return torch.zeros(0, 3, size, size)
    mean = torch.tensor(protocol["mean"])[:, None, None]
    std = torch.tensor(protocol["std"])[:, None, None]
    images = torch.stack([dataset[i][0] for i in index]) * std + mean
    small = torch.nn.functional.interpolate(images, size=(size, size), mode="area")
    return small.clamp(0, 1)


def review_outputs_full(run: SeedRun, out_dir: str | Path, limit: int = 200) -> dict[str, Path]:
    """Write ``removed.csv`` (flagged files with every annotator's vote and confidence),
    ``counts.csv`` (items and removals per set) and ``contact_sheet.html`` (at most ``limit``
    thumbnails per set). Returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    full = pd.concat(
        [
            votes_table(run.committees[n], n, s.items, run.bench.classes, only_flagged=False)
            for n, s in run.bench.ood.items()
        ],
        ignore_index=True,
    )
    removed = full[full["flagged"]].reset_index(drop=True)
    paths = {"removed": out_dir / "removed.csv", "counts": out_dir / "counts.csv"}
    removed.to_csv(paths["removed"], index=False)
    counts_per_dataset(full).to_csv(paths["counts"], index=False)
    images, captions = [], []
    for name in run.bench.ood:
        shown = flagged_images(run, name, limit)
        rows = removed[removed["dataset"] == name].head(len(shown))
        images.append(shown)
        captions += [
            f"{r['item']} -> {r['class']} ({r.agreement}/{len(run.annotators)})"
            for _, r in rows.iterrows()
        ]
    sheet = torch.cat(images).numpy() if images else torch.zeros(0, 3, 1, 1).numpy()
    paths["sheet"] = contact_sheet_html(sheet, captions, out_dir / "contact_sheet.html", scale=1)
    return paths
