# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The information bottleneck behind CLIP
#
# [Open this chapter in Colab](https://colab.research.google.com/github/cibr-lab/cibr_lab/blob/main/notebooks/01_information_bottleneck.ipynb)
#
# **What the paper claims.** CIBR (Ji et al., arXiv 2503.24182, ICANN 2025) reads CLIP's
# contrastive objective as an *implicit* information-bottleneck (IB) optimisation: it keeps the
# information the two modalities share and discards what is specific to one modality. CIBR
# then adds an *explicit* penalty on that modality-specific redundancy.
#
# **What was available to us.** The abstract and secondary summaries only. One summary names
# the suppressed terms $I(Z_v; X_v \mid X_t)$ and $I(Z_t; X_t \mid X_v)$; another says the
# penalty is estimated with MINE. The paper's own derivation was not available.
#
# **What we built.** The derivation below is *ours*: the standard IB, the chain rule under the
# two-encoder Markov chain, and the InfoNCE bound, assembled to make the paper's reading
# precise. Every step is checked numerically right after it, on examples where the true
# quantities are known in closed form. The claim itself is tested on a linear-Gaussian
# "CLIP" whose information terms are exact.

# %% tags=["hide-cell"]
# On Colab or a fresh kernel: install cibr_lab when it is missing (a no-op otherwise).
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("cibr_lab") is None:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q",
         "cibr_lab @ git+https://github.com/cibr-lab/cibr_lab"],
        check=True,
    )

# %% tags=["parameters"]
profile = "embedded"  # smoke | embedded | full
seeds = None  # None: the profile's seeds

# %% tags=["hide-input", "remove-stderr"]
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import display
from myst_nb import glue

from cibr_lab import references
from cibr_lab.experiments import theory
from cibr_lab.plots import (
    facet_lines,
    glue_figure,
    method_palette,
    save_figure,
    set_theme,
    t_interval,
)
from cibr_lab.results import claims_table, evaluate_claims, load_claims, load_records
from cibr_lab.results.present import verdict_sentence, verdict_table
from cibr_lab.runtime import get_profile

set_theme()
P = get_profile(profile, seeds=seeds)
cfg = P.section("theory")
tables = theory.run(P)  # every experiment of this chapter, one record per experiment and seed
glue("n_seeds", len(P.seeds), display=False)
print(f"profile={P.name} seeds={list(P.seeds)}")

# %% [markdown]
# The experiments above ran once for all seeds of the profile
# ({glue:text}`n_seeds` seeds) and wrote their records; each section below reads its table.
#
# ## 1. The information bottleneck for one modality
#
# Notation: inputs $X_v$ (image) and $X_t$ (text), embeddings $Z_v = f_v(X_v)$ and
# $Z_t = f_t(X_t)$. Each encoder sees only its own input, so
#
# $$Z_v - X_v - X_t - Z_t$$
#
# is a Markov chain. The IB asks the image encoder to compress its input while staying
# predictive of the other modality, the "relevance" variable:
#
# $$\min_{p(z_v \mid x_v)} \; \mathcal{L}_{IB} = I(X_v; Z_v) - \beta \, I(Z_v; X_t), \qquad \beta > 1 .$$
#
# ## 2. The chain rule isolates the modality-specific redundancy
#
# Expand $I(X_v, X_t; Z_v)$ with the chain rule in both orders:
#
# $$I(X_v, X_t; Z_v) = I(X_v; Z_v) + I(X_t; Z_v \mid X_v) = I(X_t; Z_v) + I(X_v; Z_v \mid X_t).$$
#
# The Markov chain gives $I(X_t; Z_v \mid X_v) = 0$: given the image, the caption tells
# nothing more about the image embedding. Hence
#
# $$I(X_v; Z_v) = I(Z_v; X_t) + I(Z_v; X_v \mid X_t),$$
#
# and substituting into the Lagrangian,
#
# $$\mathcal{L}_{IB} = \underbrace{I(Z_v; X_v \mid X_t)}_{\text{modality-specific redundancy}}
#   - (\beta - 1)\, \underbrace{I(Z_v; X_t)}_{\text{shared (relevant) information}} .$$
#
# The first term is exactly what CIBR's summaries say it suppresses: what the image
# embedding knows about the image that the caption cannot explain.
#
# **Check.** A two-bit image $X_v = (S, A)$ and a two-bit caption $X_t = (S', B)$, where $S'$
# copies the shared bit $S$ but flips it with a small probability, and $A$, $B$ are private
# fair bits. Three deterministic encoders; every term is computed exactly from the joint table.

# %%
flip, beta = 0.1, 2.0
chain = theory.chain_rule_example(flip=flip)
glue("chain_flip", flip, display=False)
glue("chain_beta", beta, display=False)
chain["IB Lagrangian"] = chain["I(X_v;Z_v)"] - beta * chain["I(Z_v;X_t)"]
display(chain.round(4))
glue("chain_max_residual", float(chain["residual"].abs().max()), display=False)
best = chain.loc[chain["IB Lagrangian"].idxmin(), "encoder"]
glue("chain_best", best, display=False)

# %% [markdown]
# The chain-rule residual is at most {glue:text}`chain_max_residual:.1e` nats (floating-point
# round-off; flip probability {glue:text}`chain_flip`). The encoder that minimises the IB
# Lagrangian at $\beta =$ {glue:text}`chain_beta` is
# **{glue:text}`chain_best`**: keeping the private bit $A$ only adds redundancy
# $I(Z_v; X_v \mid X_t)$ without adding relevance.
#
# ## 3. What CLIP's loss bounds: the relevance term only
#
# Two inequalities connect the relevance term to CLIP's loss.
#
# *Data processing.* $Z_t$ is computed from $X_t$ alone, so by the Markov chain
# $I(Z_v; X_t) \ge I(Z_v; Z_t)$.
#
# *InfoNCE.* For a batch of $N$ pairs and any critic $f$ (CLIP uses
# $f(z_v, z_t) = z_v^\top z_t / \tau$), the InfoNCE loss
#
# $$\mathcal{L}_{NCE} = -\frac{1}{N} \sum_{i=1}^N \log
#   \frac{e^{f(z_{v,i}, z_{t,i})}}{\sum_{j=1}^N e^{f(z_{v,i}, z_{t,j})}}$$
#
# satisfies $I(Z_v; Z_t) \ge \log N - \mathbb{E}[\mathcal{L}_{NCE}]$. The steps: the
# Donsker-Varadhan / NWJ family gives $I(Z_v;Z_t) \ge \mathbb{E}_p[g] - \mathbb{E}_q[e^{g}] + 1$
# for any $g$; choose $g$ as the log of the critic's softmax weight relative to the batch
# average, $g = f(z_{v,i}, z_{t,i}) - \log \frac{1}{N}\sum_j e^{f(z_{v,i}, z_{t,j})}$, whose
# exponential averages to one under the product of marginals when the other $N-1$ samples are
# independent, so the last two terms cancel and what remains is $\log N - \mathcal{L}_{NCE}$.
# Each term inside the sum is a log-probability, at most zero, so the bound can never exceed
# $\log N$:
#
# $$\log N - \mathcal{L}_{NCE} \;\le\; \min\{\log N,\; I(Z_v; Z_t)\} \;\le\; I(Z_v; X_t).$$
#
# Minimising CLIP's loss therefore pushes up a lower bound of the *relevance* term; the
# compression term $I(Z_v; X_v \mid X_t)$ of Section 2 does not appear in the loss. Whatever
# compression CLIP achieves is implicit: finite capacity, normalisation, temperature.
#
# **Check.** Correlated Gaussians, $Y = \rho X + \sqrt{1-\rho^2}\,E$ in each of
# $d$ dimensions, have $I(X;Y) = -\tfrac{d}{2}\log(1-\rho^2)$. With the *optimal* critic
# (the true log density ratio) the only gap left is the bound itself.

# %% tags=["hide-input"]
ceiling = tables["ceiling"]
fig, ax = plt.subplots(figsize=(6.2, 4))
sns.lineplot(data=ceiling, x="true_mi", y="estimate", hue="batch_size", marker="o",
             errorbar=t_interval, palette="viridis", ax=ax)
for n in sorted(ceiling["batch_size"].unique()):
    ax.axhline(math.log(n), ls=":", lw=1, color="grey")
lim = ceiling["true_mi"].max()
ax.plot([0, lim], [0, lim], "k--", lw=1, label="true MI")
ax.set(xlabel="true I(X;Y) [nats]", ylabel="InfoNCE estimate [nats]",
       title="InfoNCE saturates at log N (dotted)")
ax.legend(title="batch N")
glue_figure(fig, "infonce_ceiling", P.label, "theory")

excess_logn = float((ceiling["estimate"] - ceiling["batch_size"].map(math.log)).max())
per_cfg = ceiling.groupby(["batch_size", "true_mi"])["estimate"].mean().reset_index()
largest = per_cfg[per_cfg["batch_size"] == per_cfg["batch_size"].max()]
top = largest.loc[largest["true_mi"].idxmax()]
glue("ceil_excess_logn", excess_logn, display=False)
glue("ceil_top_n", int(top["batch_size"]), display=False)
glue("ceil_top_mi", float(top["true_mi"]), display=False)
glue("ceil_top_est", float(top["estimate"]), display=False)
glue("ceil_top_logn", math.log(top["batch_size"]), display=False)
clip_batch = int(references.get("clip_training.batch_size"))
glue("clip_batch", clip_batch, display=False)
glue("clip_batch_logn", math.log(clip_batch), display=False)
glue("clip_batch_source", references.reference("clip_training").citation(), display=False)

# %% [markdown]
# ```{glue:figure} theory-infonce_ceiling
# :name: fig-infonce-ceiling
#
# InfoNCE with the optimal critic against the true mutual information of correlated Gaussians,
# one line per batch size $N$ (mean and 95% t-interval over seeds). Dotted: $\log N$; dashed:
# the true value. The estimate follows the truth until it meets $\log N$.
# ```
#
# Over every trial, the estimate minus $\log N$ is at most
# {glue:text}`ceil_excess_logn:.3f` nats: never above the ceiling. At $N =$
# {glue:text}`ceil_top_n` and a true MI of {glue:text}`ceil_top_mi:.0f` nats the mean estimate
# is {glue:text}`ceil_top_est:.2f` nats, pinned below $\log N =$
# {glue:text}`ceil_top_logn:.2f`. A CLIP batch of {glue:text}`clip_batch` pairs (the batch of
# the original CLIP models; {glue:text}`clip_batch_source`) caps the certified shared
# information at {glue:text}`clip_batch_logn:.1f` nats, whatever the encoders know.
#
# ## 4. Neural estimators: MINE and NWJ
#
# CIBR's summaries say the penalty is estimated with MINE. Two classical bounds, for any
# critic $T$ and the product of marginals $q = p(x)p(y)$:
#
# $$\begin{aligned}
# I &\ge \mathbb{E}_p[T] - \log \mathbb{E}_q[e^T] && \text{(Donsker-Varadhan, MINE)}, \\
# I &\ge \mathbb{E}_p[T] - e^{-1}\mathbb{E}_q[e^T] && \text{(NWJ)} .
# \end{aligned}$$
#
# NWJ is unbiased in the mini-batch but its variance grows like $e^{I}$; DV's log of a batch
# mean is biased, and MINE corrects the *gradient* of $\log \mathbb{E}_q[e^T]$ by replacing the
# denominator of $\nabla \mathbb{E}_q[e^T] / \mathbb{E}_q[e^T]$ with an exponential moving
# average. InfoNCE trades bias (the $\log N$ cap) for low variance.
#
# **Check.** A separable critic $T(x, y) = g(x)^\top h(y)$ (the CLIP form) trained with each
# objective, then evaluated on fresh batches; bias and spread against the true MI.

# %% tags=["hide-input"]
bounds = tables["bounds"]
stats = (bounds.assign(error=bounds["estimate"] - bounds["true_mi"])
         .groupby(["estimator", "true_mi"])
         .agg(bias=("error", "mean"), std=("estimate", "std")).reset_index())
display(stats.round(3).pivot(index="true_mi", columns="estimator", values=["bias", "std"]))
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
estimators = method_palette(sorted(bounds["estimator"].unique()))
sns.boxplot(data=bounds.assign(error=bounds["estimate"] - bounds["true_mi"]), x="true_mi",
            y="error", hue="estimator", palette=estimators, ax=axes[0])
axes[0].axhline(0, color="k", lw=1)
axes[0].set(xlabel="true MI [nats]", ylabel="estimate - true MI [nats]",
            title=f"after {cfg['critic_steps']} steps, batch {cfg['critic_batch']}")
traces = tables["traces"]
sns.lineplot(data=traces[traces["true_mi"] == traces["true_mi"].max()], x="step", y="estimate",
             hue="estimator", palette=estimators, errorbar=None, ax=axes[1])
axes[1].axhline(traces["true_mi"].max(), color="k", ls="--", lw=1)
axes[1].set(title=f"training, true MI = {traces['true_mi'].max():g} nats")
save_figure(fig, "mine_nwj_bias_variance", P.label, "theory")
plt.show()
worst = stats.loc[stats["true_mi"] == stats["true_mi"].max()].set_index("estimator")
for name in worst.index:
    glue(f"bias_{name}", float(worst.loc[name, "bias"]), display=False)
    glue(f"std_{name}", float(worst.loc[name, "std"]), display=False)
glue("bias_top_mi", float(stats["true_mi"].max()), display=False)

# %% [markdown]
# At a true MI of {glue:text}`bias_top_mi:.0f` nats the estimates fall short by
# {glue:text}`bias_infonce:.2f` (InfoNCE), {glue:text}`bias_mine:.2f` (MINE) and
# {glue:text}`bias_nwj:.2f` (NWJ) nats, with spreads over batches and seeds of
# {glue:text}`std_infonce:.2f`, {glue:text}`std_mine:.2f` and {glue:text}`std_nwj:.2f`.
# The lesson for CIBR's `mine` variant: a penalty built from a *lower*-bound estimate of a
# quantity one wants to make *small* has no guarantee; a low estimate may only mean a weak
# critic. That is why our default regulariser is an upper bound.
#
# ## 5. Making the compression explicit: the CIBR objective
#
# CIBR adds the redundancy terms to CLIP's loss,
#
# $$\mathcal{L} = \mathcal{L}_{CLIP} + \lambda \,(R_v + R_t), \qquad
#   R_v \approx I(Z_v; X_v \mid X_t), \; R_t \approx I(Z_t; X_t \mid X_v).$$
#
# *Our reconstruction (`ceb`, after Fischer's Conditional Entropy Bottleneck).* Let the image
# encoder be stochastic, $e(z_v \mid x_v) = \mathcal{N}(\mu_v(x_v), s^2 I)$, and let a
# "backward" model predict the image embedding from the caption,
# $b(z_v \mid x_t) = \mathcal{N}(g(\mu_t(x_t)), s_b^2 I)$. Under the Markov chain
# $p(z_v \mid x_v, x_t) = e(z_v \mid x_v)$, so
#
# $$\begin{aligned}
# I(Z_v; X_v \mid X_t) &= \mathbb{E}\Big[\log \frac{e(z_v \mid x_v)}{p(z_v \mid x_t)}\Big]
#   = \mathbb{E}\Big[\log \frac{e(z_v \mid x_v)}{b(z_v \mid x_t)}\Big]
#     - \mathbb{E}_{x_t}\big[\mathrm{KL}(p(z_v \mid x_t) \,\|\, b(z_v \mid x_t))\big] \\
#   &\le \mathbb{E}\big[\mathrm{KL}(e(z_v \mid x_v) \,\|\, b(z_v \mid x_t))\big] .
# \end{aligned}$$
#
# For two Gaussians the KL is closed-form; with equal variances $s_b = s$,
#
# $$\mathrm{KL} = \frac{\lVert \mu_v(x_v) - g(\mu_t(x_t)) \rVert^2}{2 s^2} .$$
#
# With $g$ the identity this is an *alignment* term, and on the unit sphere
# $\lVert u - w \rVert^2 = 2 - 2 u^\top w$: the alignment half of Wang and Isola's
# alignment/uniformity reading of contrastive learning, while InfoNCE's denominator supplies
# uniformity. It also pulls the two modalities' embeddings onto each other, so it should shrink
# CLIP's *modality gap*; the CIBR chapter measures that.
#
# **Check: does CLIP compress implicitly, and does the penalty compress further?** Linear
# encoders $Z_m = W_m X_m + \xi$ with $\xi \sim \mathcal{N}(0, I)$, on inputs with a shared
# Gaussian factor (seen noisily by both modalities) and private nuisance dimensions
# ({glue:text}`ib_nuisance` per modality, scale {glue:text}`ib_nuisance_scale`, the "background
# texture" of this toy). The critic scores the means, $\mu_v^\top \mu_t$, as CLIP does;
# weight decay bounds the capacity. Because everything is Gaussian, every information term is
# exact (log-determinants), so we can watch relevance and redundancy during training, with
# and without the penalty ($\lambda =$ {glue:text}`ib_lam`).

# %% tags=["hide-input"]
glue("ib_nuisance", cfg["ib_nuisance"], display=False)
glue("ib_nuisance_scale", cfg["ib_nuisance_scale"], display=False)
glue("ib_lam", cfg["ib_lam"], display=False)
ib = tables["ib"].assign(objective=lambda d: np.where(d["lam"] == 0, "CLIP", "CLIP + CEB penalty"))
long = ib.melt(id_vars=["objective", "step", "seed"], value_vars=["relevance", "redundancy"],
               var_name="term", value_name="nats")
grid = facet_lines(long, x="step", y="nats", hue="objective", col="term",
                   palette=method_palette(long["objective"].unique()))
grid.set_titles("{col_name}")
save_figure(grid.figure, "implicit_ib", P.label, "theory")
plt.show()
ib_records = load_records(profile=P.label, chapter="theory")
ib_metrics = ib_records[ib_records["experiment"] == "implicit_ib"].pivot_table(
    index="seed", columns="metric", values="value")
for key in ("relevance_init", "relevance_final_clip", "redundancy_init", "redundancy_final_clip",
            "relevance_final_cibr", "redundancy_final_cibr"):
    glue(key, float(ib_metrics[key].mean()), display=False)
display(ib_metrics[["relevance_init", "relevance_final_clip", "relevance_final_cibr",
                    "redundancy_init", "redundancy_final_clip", "redundancy_final_cibr"]].round(3))

# %% [markdown]
# Averaged over seeds, CLIP training moves the relevance $I(Z_v; X_t)$ from
# {glue:text}`relevance_init:.3f` to {glue:text}`relevance_final_clip:.3f` nats and the
# redundancy $I(Z_v; X_v \mid X_t)$ from {glue:text}`redundancy_init:.3f` to
# {glue:text}`redundancy_final_clip:.3f` nats. With the penalty the run ends at a relevance of
# {glue:text}`relevance_final_cibr:.3f` and a redundancy of
# {glue:text}`redundancy_final_cibr:.3f` nats. The verdicts with intervals are in the table
# below and in the report chapter. In this toy, compression is bought with some relevance as
# $\lambda$ grows: the penalty is a trade-off, not a free lunch, and whether the trade helps
# generalisation is the question the CIBR chapter asks on images and captions.
#
# ## Claims registered by this chapter
#
# The paper's theoretical claim, split into what this chapter can test (all three on the
# linear-Gaussian toy, exact information terms, paired by seed):

# %%
claims = load_claims("theory")
verdicts = evaluate_claims(load_records(profile=P.label), claims)
with pd.option_context("display.max_colwidth", 200):
    display(claims_table(claims)[["id", "claim", "source", "note"]].style.hide(axis="index"))
display(verdict_table(verdicts))
glue("verdict_summary", verdict_sentence(verdicts), display=False)

# %% [markdown]
# Under this profile: {glue:text}`verdict_summary` (primary claims Holm-corrected; the `mde`
# column is the smallest true effect each test detects with 80% power, in nats).

# %% tags=["hide-input"]
full = get_profile("full")
fcfg = full.section("theory")
glue("full_dim", fcfg["dim"], display=False)
glue("full_max_batch", max(fcfg["batch_sizes"]), display=False)
glue("full_critic_steps", fcfg["critic_steps"], display=False)
glue("full_shared", fcfg["ib_shared"], display=False)
glue("full_nuisance", fcfg["ib_nuisance"], display=False)
glue("full_seeds", len(full.seeds), display=False)

# %% [markdown]
# ## What the full profile changes
#
# `cibr-lab run theory --profile full` uses {glue:text}`full_dim`-dimensional Gaussians,
# batches up to {glue:text}`full_max_batch`, {glue:text}`full_critic_steps` critic steps and a
# larger toy ({glue:text}`full_shared` shared and {glue:text}`full_nuisance` nuisance
# dimensions), with {glue:text}`full_seeds` seeds. The derivations do not change; the
# estimates tighten. Everything here runs on a CPU in minutes; no GPU is needed.
