"""The "manifold" picture: labelled vs unlabelled penultimate features with and without MMD."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.decomposition import PCA

from cibr_lab.al.datasets import ALData
from cibr_lab.al.nets import get_net
from cibr_lab.al.pool import Pool
from cibr_lab.al.train import TrainConfig, accuracy, train
from cibr_lab.info import mmd2


def feature_alignment(
    data: ALData,
    dataset_settings: Mapping[str, Any],
    mmd_weights: Sequence[float],
    seed: int,
    device: torch.device,
    n_unlabeled: int = 500,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train one model per MMD weight on the same initial labelled set (no SWA) and compare
    the penultimate features of the labelled points and of ``n_unlabeled`` pool points.

    Returns ``points`` (mmd_weight, subset in {labelled, unlabelled}, label, pc1, pc2: a 2-D
    PCA fitted per weight on both subsets) and ``distances`` (mmd_weight, mmd2 between the two
    subsets' features, test accuracy).
    """
    pool = Pool.random_initial(
        data.x_pool.shape[0], dataset_settings["n_initial"], np.random.default_rng(seed)
    )
    lab = torch.as_tensor(pool.labeled)
    unl = torch.as_tensor(pool.unlabeled)
    shown = unl[torch.randperm(unl.numel(), generator=torch.Generator().manual_seed(seed))]
    shown = shown[:n_unlabeled]
    points, distances = [], []
    for w in mmd_weights:
        cfg = TrainConfig(**{**dataset_settings["train"], "mmd_weight": float(w), "swa": False})
        torch.manual_seed(seed)
        net = get_net(
            dataset_settings["net"],
            data.in_shape,
            data.n_classes,
            **dataset_settings.get("net_options", {}),
        )
        learner = train(
            net,
            data.x_pool[lab],
            data.y_pool[lab],
            data.x_pool[unl],
            cfg,
            device,
            torch.Generator().manual_seed(seed),
        )
        fl, fu = learner.features(data.x_pool[lab]), learner.features(data.x_pool[shown])
        pcs = PCA(2, random_state=seed).fit_transform(torch.cat([fl, fu]).numpy())
        labels = torch.cat([data.y_pool[lab], data.y_pool[shown]]).numpy()
        subset = np.repeat(["labelled", "unlabelled"], [fl.shape[0], fu.shape[0]])
        points.append(
            pd.DataFrame(
                {
                    "mmd_weight": w,
                    "subset": subset,
                    "label": labels,
                    "pc1": pcs[:, 0],
                    "pc2": pcs[:, 1],
                }
            )
        )
        acc = accuracy(learner, data.x_test, data.y_test)
        distances.append({"mmd_weight": w, "mmd2": float(mmd2(fl, fu)), "accuracy": acc})
    return pd.concat(points, ignore_index=True), pd.DataFrame(distances)
