"""One active-learning round on the device: training (plain and SWA), every strategy."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from cibr_lab.al.kcenter import farthest_first, min_sq_dist_to
from cibr_lab.al.kmeanspp import d2_seeding, probability_residual
from cibr_lab.al.nets import get_net
from cibr_lab.al.pool import Pool
from cibr_lab.al.strategies import STRATEGIES, get_strategy
from cibr_lab.al.train import TrainConfig, train
from cibr_lab.gpucheck.context import CheckContext
from cibr_lab.gpucheck.sync import no_host_sync

N_CLASSES = 4


def al_round(ctx: CheckContext) -> dict[str, Any]:
    """Train with MMD and augmentation (sync-checked), train with an SWA trajectory, query
    every registered strategy, and sync-check the greedy loops of coreset and BADGE."""
    s, device = ctx.sizes, ctx.device
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    x_pool = torch.randn(s.al_pool, 1, 28, 28, generator=gen)
    y_pool = torch.randint(N_CLASSES, (s.al_pool,), generator=gen)
    pool = Pool.random_initial(s.al_pool, s.al_initial, np.random.default_rng(0))
    lab, unl = torch.as_tensor(pool.labeled), torch.as_tensor(pool.unlabeled)
    steps = s.al_epochs * -(-s.al_initial // s.al_batch)
    base = {"batch_size": s.al_batch, "unlabeled_batch_size": s.al_batch}
    plain = TrainConfig(**base, steps=steps, mmd_weight=0.1, augment=True)
    half = max(1, steps // 4)
    swa = TrainConfig(**base, steps=steps // 2 or 1, swa=True, n_snapshots=2, cycle_steps=half)
    net = get_net("cnn28", (1, 28, 28), N_CLASSES).to(device)
    start = ctx.wait()
    with no_host_sync("al training (mmd + augment)", ctx.check_sync):
        train(net, x_pool[lab], y_pool[lab], x_pool[unl], plain, device, gen)
    train_s = ctx.wait() - start
    net = get_net("cnn28", (1, 28, 28), N_CLASSES).to(device)
    learner = train(net, x_pool[lab], y_pool[lab], x_pool[unl], swa, device, gen)
    query_s = {}
    for name in STRATEGIES:
        start = time.perf_counter()
        query = get_strategy(name).query(learner, x_pool, pool, s.al_budget, gen)
        query_s[name] = time.perf_counter() - start
        picked = np.asarray(query.indices)
        if len(set(picked.tolist())) != s.al_budget or pool.labeled_mask[picked].any():
            raise AssertionError(f"strategy {name!r} picked {picked.tolist()}: not new and unique")
    feats = learner.features(x_pool).to(device)
    mask = torch.as_tensor(pool.labeled_mask, device=device)
    min_d = min_sq_dist_to(feats, feats[mask])
    probs = learner.predict_proba(x_pool[unl]).to(device)
    uniforms = torch.rand(s.al_budget, generator=gen, dtype=torch.float64).to(device)
    residual, h = probability_residual(probs), feats[unl.to(device)]
    with no_host_sync("al coreset / badge selection loops", ctx.check_sync):
        farthest_first(feats, min_d, mask, s.al_budget)
        d2_seeding(residual, h, uniforms)
    return {
        "strategies": sorted(query_s),
        "train_steps": steps,
        "train_steps_per_s": steps / train_s,
        "query_seconds": query_s,
        "summary": f"{len(query_s)} strategies, {steps / train_s:.1f} train steps/s",
    }
