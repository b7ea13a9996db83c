"""The manifold figure's data: PCA points per subset and the MMD^2 between feature sets."""

import torch

from cibr_lab.al.datasets import load_al_data
from cibr_lab.al.manifold import feature_alignment

SETTINGS = {
    "net": "mlp",
    "net_options": {"hidden": 16, "dropout": 0.0},
    "n_initial": 30,
    "train": {"steps": 90, "batch_size": 10, "lr": 0.01, "unlabeled_batch_size": 32},
}


def test_feature_alignment_frames_and_mmd_effect():
    data = load_al_data("digits", 300, 100)
    points, distances = feature_alignment(
        data, SETTINGS, [0.0, 5.0], seed=0, device=torch.device("cpu"), n_unlabeled=100
    )
    assert list(distances["mmd_weight"]) == [0.0, 5.0]
    counts = points.groupby(["mmd_weight", "subset"]).size()
    assert counts[(0.0, "labelled")] == 30 and counts[(5.0, "unlabelled")] == 100
    # PCA: centred coordinates, first component with the larger spread
    for _, group in points.groupby("mmd_weight"):
        assert abs(group[["pc1", "pc2"]].mean()).max() < 1e-4
        assert group["pc1"].var() >= group["pc2"].var()
    without, with_mmd = distances["mmd2"]
    assert with_mmd < without
    assert distances["accuracy"].between(0, 1).all()
