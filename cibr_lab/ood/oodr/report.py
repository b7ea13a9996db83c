"""OOD-R outputs for human review: the votes table, counts per dataset, an HTML contact sheet."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from cibr_lab.ood.oodr.committee import Committee
from cibr_lab.results import atomic_write_text


def votes_table(
    committee: Committee,
    dataset: str,
    item_ids: Sequence[str],
    class_names: Sequence[str],
    only_flagged: bool = True,
) -> pd.DataFrame:
    """One row per (flagged) item: dataset, item, class, agreement, each annotator's vote and
    confidence (``vote_i``, ``conf_i``). Write it with ``DataFrame.to_csv``."""
    n, m = committee.votes.shape
    if len(item_ids) != n:
        raise ValueError(f"{len(item_ids)} item ids for {n} committee decisions")
    names = np.asarray(class_names, dtype=object)
    table = pd.DataFrame(
        {
            "dataset": dataset,
            "item": list(item_ids),
            "flagged": committee.flagged,
            "class": np.where(committee.flagged, names[committee.label.clip(min=0)], ""),
            "agreement": committee.agreement,
            **{f"vote_{i}": names[committee.votes[:, i]] for i in range(m)},
            **{f"conf_{i}": committee.confidence[:, i].round(4) for i in range(m)},
        }
    )
    return table[table["flagged"]].reset_index(drop=True) if only_flagged else table


def counts_per_dataset(table: pd.DataFrame) -> pd.DataFrame:
    """From a full votes table (``only_flagged=False``, datasets concatenated): per dataset the
    number of items, removed items and the removed fraction."""
    grouped = table.groupby("dataset", sort=True)["flagged"]
    out = pd.DataFrame({"n_items": grouped.size(), "n_removed": grouped.sum()}).reset_index()
    out["removed_fraction"] = out["n_removed"] / out["n_items"]
    return out


def _png_base64(image: np.ndarray, scale: int) -> str:
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    elif arr.ndim == 3 and arr.shape[0] == 3:
        arr = arr.transpose(1, 2, 0)
    pil = Image.fromarray((arr.clip(0, 1) * 255).round().astype(np.uint8))
    pil = pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def contact_sheet_fragment(images: np.ndarray, captions: Sequence[str], scale: int = 3) -> str:
    """The thumbnails with captions as one self-styled ``<div>`` (embeddable in any page).

    ``images``: ``[N, 1, H, W]``, ``[N, 3, H, W]`` or ``[N, H, W]`` in [0, 1]; one caption each.
    """
    if len(images) != len(captions):
        raise ValueError(f"{len(images)} images for {len(captions)} captions")
    cells = "\n".join(
        '<figure style="display:inline-block;margin:4px;width:110px;vertical-align:top">'
        f'<img style="image-rendering:pixelated" src="data:image/png;base64,'
        f'{_png_base64(img, scale)}" alt="">'
        f'<figcaption style="font-size:11px">{html.escape(cap)}</figcaption></figure>'
        for img, cap in zip(images, captions, strict=True)
    )
    return f'<div class="oodr-sheet">\n{cells}\n</div>'


def contact_sheet_html(
    images: np.ndarray,
    captions: Sequence[str],
    path: str | Path,
    title: str = "OOD-R: flagged images for review",
    scale: int = 3,
) -> Path:
    """Write a self-contained HTML page (PNG thumbnails embedded as base64, no network)."""
    fragment = contact_sheet_fragment(images, captions, scale)
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body style='font-family:sans-serif'>"
        f"<h1>{html.escape(title)}</h1><p>{len(captions)} images</p>\n{fragment}\n</body></html>\n"
    )
    return atomic_write_text(path, page)
