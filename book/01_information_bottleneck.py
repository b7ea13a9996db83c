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
# precise. Each derived result is followed by a numerical **Check** on an example where the
# true quantities are known in closed form: the chain rule, the choice $\beta > 1$, the
# InfoNCE bound (from above *and* below), the CEB upper bound against the exact redundancy,
# and the reading of the CEB penalty as a reweighted InfoNCE. The paper's claims are then
# tested on a linear-Gaussian "CLIP" whose information terms are exact, with a
# weight-decay-only control and a sweep over the penalty weight $\lambda$.

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
import pandas as pd
import seaborn as sns
from IPython.display import display
from myst_nb import glue

from cibr_lab import references
from cibr_lab.experiments import theory
from cibr_lab.experiments.ceb_infonce import ceb_as_reweighted_infonce, ceb_kappa
from cibr_lab.experiments.implicit_ib import arm_name
from cibr_lab.plots import (
    facet_lines,
    glue_figure,
    method_colour,
    method_palette,
    set_theme,
    t_interval,
)
from cibr_lab.results import claims_table, evaluate_claims, load_claims, load_records
from cibr_lab.results.present import (
    interval_text,
    sig3,
    styled,
    verdict_sentence,
    verdict_table,
    write_download,
)
from cibr_lab.results.stats import mean_ci
from cibr_lab.runtime import get_profile

set_theme()
P = get_profile(profile, seeds=seeds)
cfg = P.section("theory")
tables = theory.run(P)  # every experiment of this chapter, one record per experiment and seed
glue("n_seeds", len(P.seeds), display=False)
glue("ib_n_seeds", len(cfg["ib_seeds"]), display=False)
print(f"profile={P.name} seeds={list(P.seeds)}")

# %% [markdown]
# The experiments above ran once and wrote their records: the bounds experiments over the
# profile's {glue:text}`n_seeds` seeds, the cheap linear-Gaussian toy (Section 7), which
# carries the claims, over its own {glue:text}`ib_n_seeds` seeds. Each section below reads
# its table.
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
# $$\min_{p(z_v \mid x_v)} \; \mathcal{L}_{IB} = I(X_v; Z_v) - \beta \, I(Z_v; X_t),
#   \qquad \beta > 1 .$$
#
# Section 2 shows why $\beta > 1$: for $\beta \le 1$ the best encoder keeps nothing.
#
# ## 2. The chain rule isolates the modality-specific redundancy
#
# Expand $I(X_v, X_t; Z_v)$ with the chain rule in both orders:
#
# $$\begin{aligned}
# I(X_v, X_t; Z_v) &= I(X_v; Z_v) + I(X_t; Z_v \mid X_v) \\
#   &= I(X_t; Z_v) + I(X_v; Z_v \mid X_t) .
# \end{aligned}$$
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
# *Why $\beta > 1$.* Both mutual informations are non-negative, so for $\beta \le 1$ both
# terms are $\ge 0$ and $\mathcal{L}_{IB} \ge 0$; a constant encoder has $I(X_v; Z_v) = 0$,
# so it attains $\mathcal{L}_{IB} = 0$ and is optimal. Only for $\beta > 1$ does relevance
# pay for the redundancy it brings along.
#
# **Check.** A two-bit image $X_v = (S, A)$ and a two-bit caption $X_t = (S', B)$, where $S'$
# copies the shared bit $S$ but flips it with a small probability, and $A$, $B$ are private
# fair bits. Four deterministic encoders, the constant one included; every term is computed
# exactly from the joint table.

# %%
flip, beta, beta_low = 0.1, 2.0, 1.0
chain = theory.chain_rule_example(flip=flip)
chain["IB Lagrangian, beta=2"] = chain["I(X_v;Z_v)"] - beta * chain["I(Z_v;X_t)"]
chain["IB Lagrangian, beta=1"] = chain["I(X_v;Z_v)"] - beta_low * chain["I(Z_v;X_t)"]
shown = chain.drop(columns="residual")
display(styled(shown).format(sig3, subset=[c for c in shown.columns if c != "encoder"]))
glue("chain_flip", flip, display=False)
glue("chain_beta", beta, display=False)
glue("chain_max_residual", float(chain["residual"].abs().max()), display=False)
glue("chain_best", chain.loc[chain["IB Lagrangian, beta=2"].idxmin(), "encoder"], display=False)
glue("chain_low_min", float(chain["IB Lagrangian, beta=1"].min()), display=False)

# %% [markdown]
# The chain-rule residual $I(X_v;Z_v) - I(Z_v;X_t) - I(Z_v;X_v \mid X_t)$ is at most
# {glue:text}`chain_max_residual:.1e` nats over the four encoders (floating-point round-off;
# flip probability {glue:text}`chain_flip`). At $\beta =$ {glue:text}`chain_beta` the
# Lagrangian is smallest for **{glue:text}`chain_best`**: keeping the private bit $A$ only
# adds redundancy without adding relevance. At $\beta = 1$ the smallest value over the four
# encoders is {glue:text}`chain_low_min:.3g` nats, the constant encoder's: nothing is worth
# encoding.
#
# ## 3. What CLIP's loss bounds: the relevance term only
#
# Two inequalities connect the relevance term to CLIP's loss.
#
# *Data processing.* $Z_t$ is computed from $X_t$ alone, so by the Markov chain
# $I(Z_v; X_t) \ge I(Z_v; Z_t)$ (checked on the toy of Section 7).
#
# *InfoNCE.* For a batch of $N$ pairs and any critic $f$ (CLIP uses
# $f(z_v, z_t) = z_v^\top z_t / \tau$), the InfoNCE loss is
#
# $$\mathcal{L}_{NCE} = \frac{1}{N} \sum_{i=1}^N \ell_i, \qquad
#   \ell_i = -\log \frac{e^{f(z_{v,i}, z_{t,i})}}{\sum_{j=1}^N e^{f(z_{v,i}, z_{t,j})}} .$$
#
# Write $X = Z_{v,1}$ for an anchor and $Y_1, \dots, Y_N$ for the text embeddings of the
# batch: $Y_1 \sim p(y \mid x)$ is its positive, and $Y_2, \dots, Y_N \sim p(y)$ are drawn
# independently of $(X, Y_1)$.
#
# *Step 1: the negatives carry no information.* By the chain rule,
#
# $$I(X; Y_1, \dots, Y_N) = I(X; Y_1) + I(X; Y_2, \dots, Y_N \mid Y_1) = I(X; Y_1),$$
#
# because $(Y_2, \dots, Y_N)$ is independent of $(X, Y_1)$.
#
# *Step 2: a bound on the whole batch.* The NWJ bound (Section 4) holds for any function
# $T$ of $(x, y_{1:N})$, with $q = p(x)\,p(y_{1:N})$ the product of the marginals:
# $I(X; Y_{1:N}) \ge \mathbb{E}_p[T] - e^{-1}\,\mathbb{E}_q[e^{T}]$. Choose
#
# $$T = 1 + \log \frac{e^{f(x, y_1)}}{m(x, y_{1:N})}, \qquad
#   m(x, y_{1:N}) = \frac{1}{N} \sum_{j=1}^N e^{f(x, y_j)} ,$$
#
# so that $\mathbb{E}_p[T] = 1 + \log N - \mathbb{E}[\ell_1]$ and
# $e^{-1}\mathbb{E}_q[e^T] = \mathbb{E}_q[e^{f(x, y_1)} / m]$.
#
# *Step 3: exchangeability makes the second term one.* Under $q$, $x$ is independent of
# $y_1, \dots, y_N$, which are i.i.d.; so the law of $(x, y_1, \dots, y_N)$ does not change
# when the $y$'s are permuted, and $m$ is symmetric in them. Every index $k$ therefore gives
# the same expectation, and averaging over $k$:
#
# $$\begin{aligned}
# \mathbb{E}_q\Big[\frac{e^{f(x, y_1)}}{m}\Big]
#   &= \frac{1}{N} \sum_{k=1}^N \mathbb{E}_q\Big[\frac{e^{f(x, y_k)}}{m}\Big] \\
#   &= \mathbb{E}_q\Big[\frac{\frac{1}{N} \sum_k e^{f(x, y_k)}}{m}\Big] = 1 .
# \end{aligned}$$
#
# Hence $I(X; Y_1) \ge \log N - \mathbb{E}[\ell_1]$; every anchor has the same bound, and
# averaging over $i$ gives $I(Z_v; Z_t) \ge \log N - \mathbb{E}[\mathcal{L}_{NCE}]$.
#
# *The cap.* Each $\ell_i$ is minus a log-probability, so $\ell_i \ge 0$ and
# $\log N - \mathcal{L}_{NCE} \le \log N$ on every batch. Together, for the *expected* loss,
#
# $$\log N - \mathbb{E}[\mathcal{L}_{NCE}] \;\le\; \min\{\log N,\; I(Z_v; Z_t)\}
#   \;\le\; I(Z_v; X_t).$$
#
# Minimising CLIP's loss therefore pushes up a lower bound of the *relevance* term; the
# redundancy $I(Z_v; X_v \mid X_t)$ of Section 2 does not appear in the loss. Whatever
# compression CLIP achieves is implicit: finite capacity, normalisation, temperature.
#
# *A floor for the optimal critic.* The cap holds for any critic, so checking it tests
# nothing. A statement that can fail: with the optimal critic $f = \log r$,
# $r(x, y) = p(x, y) / (p(x)p(y))$, each negative has $\mathbb{E}[r(x, Y_j) \mid x] = 1$;
# $\ell_1 = \log(1 + S / r(x, y_1))$ with $S = \sum_{j \ge 2} r(x, y_j)$ is concave in $S$,
# so by Jensen
#
# $$\log N - \mathbb{E}[\mathcal{L}_{NCE}] \;\ge\;
#   \mathbb{E}_p\Big[\log N - \log\Big(1 + \frac{N - 1}{r(X, Y)}\Big)\Big] .$$
#
# **Check.** Correlated Gaussians, $Y = \rho X + \sqrt{1-\rho^2}\,E$ in each of $d$
# dimensions, have $I(X;Y) = -\tfrac{d}{2}\log(1-\rho^2)$. With the optimal critic the mean
# estimate must lie between the floor (a Monte-Carlo average over
# {glue:text}`floor_samples` joint draws) and $\min\{I, \log N\}$, up to its standard error.

# %% tags=["hide-input"]
ceiling, floors = tables["ceiling"], tables["floors"]
cells = theory.infonce_sandwich(ceiling, floors)
fig, ax = plt.subplots(figsize=(6.2, 4))
sizes = sorted(ceiling["batch_size"].unique())
colours = dict(zip(sizes, sns.color_palette("viridis", len(sizes))))
sns.lineplot(data=ceiling, x="true_mi", y="estimate", hue="batch_size", marker="o",
             errorbar=t_interval, palette=colours, ax=ax)
for n in sizes:
    cell = cells[cells["batch_size"] == n]
    ax.plot(cell["true_mi"], cell["floor"], ls="--", lw=1, color=colours[n])
    ax.axhline(math.log(n), ls=":", lw=1, color="grey")
lim = ceiling["true_mi"].max()
ax.plot([0, lim], [0, lim], "k-", lw=0.8, label="true MI")
ax.plot([], [], ls="--", color="grey", label="Jensen floor")
ax.plot([], [], ls=":", color="grey", label="log N")
ax.set(xlabel="true I(X;Y) [nats]", ylabel="InfoNCE estimate [nats]")
ax.legend(title="batch N", fontsize=8)
glue_figure(fig, "infonce_ceiling", P.label, "theory")

glue("floor_samples", cfg["floor_samples"], display=False)
glue("sandwich_cells", len(cells), display=False)
glue("sandwich_trials", int(ceiling.groupby(["batch_size", "true_mi"]).size().iloc[0]),
     display=False)
glue("sandwich_max_z", float(cells[["z_upper", "z_lower"]].max().max()), display=False)
glue("sandwich_max_width", float((cells["upper"] - cells["floor"]).max()), display=False)
per_cfg = cells[cells["batch_size"] == cells["batch_size"].max()]
top = per_cfg.loc[per_cfg["true_mi"].idxmax()]
glue("ceil_top_n", int(top["batch_size"]), display=False)
glue("ceil_top_mi", float(top["true_mi"]), display=False)
glue("ceil_top_est", float(top["mean"]), display=False)
glue("ceil_top_logn", math.log(top["batch_size"]), display=False)
clip_batch = int(references.get("clip_training.batch_size"))
glue("clip_batch", clip_batch, display=False)
glue("clip_batch_logn", math.log(clip_batch), display=False)
glue("clip_batch_source", references.reference("clip_training").citation(), display=False)
_ = write_download(cells, "theory-infonce-sandwich")

# %% [markdown]
# ```{glue:figure} theory-infonce_ceiling
# :name: fig-theory-infonce_ceiling
#
# InfoNCE with the optimal critic against the true mutual information of correlated Gaussians,
# one colour per batch size $N$ (mean and 95% t-interval over trials and seeds). Solid black:
# the true value; dotted grey: $\log N$; dashed, in each batch size's colour: the Jensen floor.
# The estimate follows the truth until it meets $\log N$, and never leaves the band between
# the floor and $\min\{I, \log N\}$.
# ```
#
# Over the {glue:text}`sandwich_cells` (batch size, MI) cells, {glue:text}`sandwich_trials`
# batches each, pooled over seeds, the largest excursion of the mean estimate beyond either
# side of the sandwich is {glue:text}`sandwich_max_z:.2f` standard errors (a negative value
# would mean every cell lies strictly inside; above about 3 would be a violation). The band
# is at most {glue:text}`sandwich_max_width:.2f` nats wide. At $N =$
# {glue:text}`ceil_top_n` and a true MI of {glue:text}`ceil_top_mi:.0f` nats the mean estimate
# is {glue:text}`ceil_top_est:.3g` nats, pinned below $\log N =$
# {glue:text}`ceil_top_logn:.3g`. A CLIP batch of {glue:text}`clip_batch` pairs (the batch of
# the original CLIP models; {glue:text}`clip_batch_source`) caps the certified shared
# information at {glue:text}`clip_batch_logn:.3g` nats, whatever the encoders know.
# Full table: {download}`theory-infonce-sandwich.csv <downloads/theory-infonce-sandwich.csv>`.
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
bounds = tables["bounds"].assign(error=lambda d: d["estimate"] - d["true_mi"])
stats = (bounds.groupby(["estimator", "true_mi"])
         .agg(bias=("error", "mean"), std=("estimate", "std")).reset_index())
shown = stats.rename(columns={"true_mi": "true MI [nats]", "bias": "mean error [nats]",
                              "std": "spread (sd) [nats]"})
display(styled(shown).format(sig3, subset=shown.columns[1:].tolist()))
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
estimators = method_palette(sorted(bounds["estimator"].unique()))
sns.boxplot(data=bounds, x="true_mi", y="error", hue="estimator", palette=estimators,
            ax=axes[0])
axes[0].axhline(0, ls=":", color="grey", label="no error")
axes[0].set(xlabel="true MI [nats]", ylabel="estimate - true MI [nats]",
            title=f"after {cfg['critic_steps']} steps, batch {cfg['critic_batch']}")
traces = tables["traces"]
top_mi = traces["true_mi"].max()
sns.lineplot(data=traces[traces["true_mi"] == top_mi], x="step", y="estimate",
             hue="estimator", palette=estimators, errorbar=None, ax=axes[1])
axes[1].axhline(top_mi, ls=":", color="grey", label="true MI")
axes[1].set(xlabel="training step", ylabel="training-batch estimate [nats]",
            title=f"training, true MI = {top_mi:g} nats")
axes[1].legend(fontsize=8)
glue_figure(fig, "mine_nwj_bias_variance", P.label, "theory")
worst = stats.loc[stats["true_mi"] == stats["true_mi"].max()].set_index("estimator")
for name in worst.index:
    bias = float(worst.loc[name, "bias"])
    glue(f"bias_{name}", f"{sig3(abs(bias))} nats {'below' if bias < 0 else 'above'}",
         display=False)
    glue(f"std_{name}", float(worst.loc[name, "std"]), display=False)
glue("bias_top_mi", float(stats["true_mi"].max()), display=False)

# %% [markdown]
# ```{glue:figure} theory-mine_nwj_bias_variance
# :name: fig-theory-mine_nwj_bias_variance
#
# Left: error of each trained estimator (estimate minus true MI, nats) on fresh evaluation
# batches, pooled over batches and seeds (box: quartiles; whiskers: 1.5 IQR); dotted: no error.
# Right: the estimate on the training batches during training at the largest MI (mean over
# seeds); dotted: the true MI.
# ```
#
# At a true MI of {glue:text}`bias_top_mi:.0f` nats the mean estimate lies
# {glue:text}`bias_infonce` the truth with InfoNCE, {glue:text}`bias_mine` with MINE and
# {glue:text}`bias_nwj` with NWJ, with spreads (standard deviation over batches and seeds)
# of {glue:text}`std_infonce:.3g`, {glue:text}`std_mine:.3g` and {glue:text}`std_nwj:.3g`
# nats. The lesson for CIBR's `mine` variant: a penalty built from a *lower*-bound estimate
# of a quantity one wants to make *small* has no guarantee; a low estimate may only mean a
# weak critic. That is why our default regulariser is an upper bound.
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
# I(Z_v; X_v \mid X_t)
#   &= \mathbb{E}\Big[\log \frac{e(z_v \mid x_v)}{p(z_v \mid x_t)}\Big] \\
#   &= \mathbb{E}\Big[\log \frac{e(z_v \mid x_v)}{b(z_v \mid x_t)}\Big]
#     - \mathbb{E}_{x_t}\big[\mathrm{KL}\big(p(z_v \mid x_t) \,\|\, b(z_v \mid x_t)\big)\big] \\
#   &\le \mathbb{E}\big[\mathrm{KL}\big(e(z_v \mid x_v) \,\|\, b(z_v \mid x_t)\big)\big] .
# \end{aligned}$$
#
# The gap is exactly $\mathbb{E}_{x_t}[\mathrm{KL}(p(z_v \mid x_t) \| b(z_v \mid x_t))]$; it
# closes when the backward model is the true conditional. For two Gaussians the KL is
# closed-form; with equal variances $s_b = s$,
#
# $$\mathrm{KL} = \frac{\lVert \mu_v(x_v) - g(\mu_t(x_t)) \rVert^2}{2 s^2} .$$
#
# With $g$ the identity this is an *alignment* term, and on the unit sphere
# $\lVert u - w \rVert^2 = 2 - 2 u^\top w$: the alignment half of Wang and Isola's
# alignment/uniformity reading of contrastive learning, while InfoNCE's denominator supplies
# uniformity. It also pulls the two modalities' embeddings onto each other, so it should shrink
# CLIP's *modality gap*; the CIBR chapter measures that.
#
# ## 6. With a fixed $\sigma$, the CEB penalty is a reweighted InfoNCE
#
# Take normalised features $u_i, w_i$, CLIP's logits $f_{ij} = u_i^\top w_j / \tau$, the
# encoder scale $s = \sigma$ fixed, and the backward models at identity with $s_b = \sigma$
# (our `ceb` estimator at initialisation). Both directions give the same KL, so
#
# $$\begin{aligned}
# \lambda (R_v + R_t) &= \frac{\lambda}{N} \sum_i \frac{2 (1 - u_i^\top w_i)}{\sigma^2}
#   = \frac{2 \lambda}{\sigma^2} - \frac{2 \lambda \tau}{\sigma^2} \cdot
#     \frac{1}{N} \sum_i f_{ii} .
# \end{aligned}$$
#
# CLIP's symmetric loss is
# $\frac{1}{N} \sum_i \big[-f_{ii} + \tfrac12 \log \sum_j e^{f_{ij}}
# + \tfrac12 \log \sum_j e^{f_{ji}}\big]$, so adding the penalty changes only the weight of
# the positive logit:
#
# $$\begin{aligned}
# \mathcal{L}_{CLIP} + \lambda (R_v + R_t)
#   &= \frac{1}{N} \sum_i \Big[-\kappa f_{ii} + \tfrac12 \log \sum_j e^{f_{ij}}
#     + \tfrac12 \log \sum_j e^{f_{ji}}\Big] + \frac{2 \lambda}{\sigma^2}, \\
# \kappa &= 1 + \frac{2 \lambda \tau}{\sigma^2} .
# \end{aligned}$$
#
# The CEB penalty is InfoNCE whose positive logit counts $\kappa > 1$ times in the numerator
# but once in the denominator: the positive pair sees a temperature $\tau / \kappa$, the
# negatives keep $\tau$. It rewards alignment more than uniformity, and nothing in it looks at
# the input beyond the embeddings. Learned backward maps and scales move it away from this
# form; without normalisation (the toy below) the same algebra leaves an extra
# $\tfrac{\lambda}{2 s^2}(\lVert \mu_v \rVert^2 + \lVert \mu_t \rVert^2)$, an activation-norm
# penalty.
#
# **Check.** `CIBRLoss` with the `ceb` estimator at initialisation against the reweighted
# InfoNCE on a random batch.

# %% tags=["hide-input"]
identity = ceb_as_reweighted_infonce(n=64, dim=16, lam=0.5, sigma=0.25, logit_scale=10.0, seed=0)
glue("rw_kappa", identity["kappa"], display=False)
glue("rw_cibr", identity["cibr"], display=False)
glue("rw_diff", abs(identity["cibr"] - identity["reweighted"]), display=False)
glue("rw_kappa_default", ceb_kappa(0.1, 0.25, 1 / 0.07), display=False)

# %% [markdown]
# For $\lambda = 0.5$, $\sigma = 0.25$ and logit scale $1/\tau = 10$ ($\kappa =$
# {glue:text}`rw_kappa:.3g`), the two sides are {glue:text}`rw_cibr:.4g` nats and differ by
# {glue:text}`rw_diff:.1e` nats, within single-precision round-off. With CLIP's initial temperature
# $\tau = 0.07$, $\lambda = 0.1$ and $\sigma = 0.25$ the positive logit's weight is
# $\kappa =$ {glue:text}`rw_kappa_default:.3g`.
#
# ## 7. Does CLIP compress implicitly, and does the penalty compress further?
#
# Linear encoders $Z_m = W_m X_m + \xi$ with $\xi \sim \mathcal{N}(0, s^2 I)$, on inputs with
# a shared Gaussian factor (seen noisily by both modalities) and private nuisance dimensions
# ({glue:text}`ib_nuisance` per modality, scale {glue:text}`ib_nuisance_scale`, the
# "background texture" of this toy). The critic scores the means, $\mu_v^\top \mu_t$, as CLIP
# does. Because everything is Gaussian, every information term is exact (log-determinants),
# and so is the CEB bound: $\mathbb{E}\lVert W_v x_v - W_t x_t \rVert^2 / (2 s^2)$ is a trace.
#
# The arms, trained on the same batches from the same initial weights (paired by seed):
# `clip`, the CLIP loss with weight decay {glue:text}`ib_wd` (decoupled, as AdamW);
# `clip_no_wd`, the CLIP loss alone; `wd_only`, weight decay alone with no loss (a
# control: shrinking the weights removes information of every kind); and `ceb-`$\lambda$,
# CLIP plus the CEB penalty with weight decay, for $\lambda \in$ {glue:text}`ib_lams`.
# The claims on the objective use `clip_no_wd`, so weight decay cannot explain them.

# %% tags=["hide-input"]
glue("ib_nuisance", cfg["ib_nuisance"], display=False)
glue("ib_nuisance_scale", cfg["ib_nuisance_scale"], display=False)
glue("ib_wd", cfg["ib_weight_decay"], display=False)
glue("ib_lams", "{" + ", ".join(f"{x:g}" for x in cfg["ib_lams"]) + "}", display=False)
headline = arm_name(cfg["ib_lam"])
glue("ib_headline", headline, display=False)
ib = tables["ib"]
shown_arms = ["clip", "clip_no_wd", "wd_only", headline]
long = ib[ib["arm"].isin(shown_arms)].melt(
    id_vars=["arm", "step", "seed"], value_vars=["relevance", "redundancy"],
    var_name="term", value_name="nats")
long["term"] = long["term"].map({"relevance": "relevance I(Z_v; X_t)",
                                 "redundancy": "redundancy I(Z_v; X_v | X_t)"})
grid = facet_lines(long, x="step", y="nats", hue="arm", col="term",
                   palette=method_palette(shown_arms))
grid.set_titles("{col_name}")
grid.set_axis_labels("training step", "exact information [nats]")
glue_figure(grid.figure, "implicit_ib", P.label, "theory")

# %% [markdown]
# ```{glue:figure} theory-implicit_ib
# :name: fig-theory-implicit_ib
#
# Exact relevance (left) and redundancy (right) of the image embedding of the linear-Gaussian
# toy during training, per arm (mean and 95% t-interval over {glue:text}`ib_n_seeds` seeds).
# `wd_only` trains nothing: its curves show what weight decay alone removes.
# ```

# %% tags=["hide-input"]
ib_records = load_records(profile=P.label, chapter="theory")
ib_metrics = ib_records[ib_records["experiment"] == "implicit_ib"].pivot_table(
    index="seed", columns="metric", values="value")
_ = write_download(ib_metrics.reset_index(), "theory-implicit-ib-per-seed")
arms = list(dict.fromkeys(ib["arm"]))
summary = pd.DataFrame({
    "arm": arms,
    **{f"{term} final [nats]": [interval_text(*mean_ci(ib_metrics[f"{term}_final_{a}"]))
                                for a in arms] for term in ("relevance", "redundancy")},
    "CEB bound - exact, final [nats]": [
        interval_text(*mean_ci(ib_metrics[f"ceb_bound_final_{a}"]
                               - ib_metrics[f"redundancy_final_{a}"])) for a in arms],
})
display(styled(summary))
for key in ("relevance_init", "redundancy_init"):
    glue(key, float(ib_metrics[key].mean()), display=False)
for arm, key in (("clip", "clip"), ("clip_no_wd", "clip_no_wd"), ("wd_only", "wd_only"),
                 (headline, "headline")):
    for term in ("relevance", "redundancy"):
        glue(f"{term}_final_{key}", float(ib_metrics[f"{term}_final_{arm}"].mean()),
             display=False)
glue("wd_extra", float((ib_metrics["redundancy_final_clip_no_wd"]
                        - ib_metrics["redundancy_final_clip"]).mean()), display=False)
glue("clip_discarded", float(-ib_metrics["redundancy_change_clip_no_wd"].mean()),
     display=False)
excess = ib_metrics[[c for c in ib_metrics if c.startswith("ceb_excess_min_")]]
glue("ceb_excess_min", float(excess.min().min()), display=False)
glue("ceb_identity_residual",
     float((ib["ceb_bound"] - ib["redundancy"] - ib["ceb_gap"]).abs().max()), display=False)
glue("ceb_gap_headline", float((ib_metrics[f"ceb_bound_final_{headline}"]
                                - ib_metrics[f"redundancy_final_{headline}"]).mean()),
     display=False)
glue("ceb_gap_clip", float((ib_metrics["ceb_bound_final_clip"]
                            - ib_metrics["redundancy_final_clip"]).mean()), display=False)
glue("dpi_margin", float((ib["relevance"] - ib["shared"]).min()), display=False)

# %% [markdown]
# Per-seed values of every arm: {download}`theory-implicit-ib-per-seed.csv
# <downloads/theory-implicit-ib-per-seed.csv>`. Intervals are 95% t-intervals over seeds.
#
# From the shared initialisation (relevance {glue:text}`relevance_init:.3g`, redundancy
# {glue:text}`redundancy_init:.3g` nats), the CLIP loss alone ends at a relevance of
# {glue:text}`relevance_final_clip_no_wd:.3g` and a redundancy of
# {glue:text}`redundancy_final_clip_no_wd:.3g` nats; with weight decay, at
# {glue:text}`relevance_final_clip:.3g` and {glue:text}`redundancy_final_clip:.3g`. Weight
# decay alone ends at {glue:text}`relevance_final_wd_only:.3g` and
# {glue:text}`redundancy_final_wd_only:.3g`. So the CLIP loss alone removes
# {glue:text}`clip_discarded:.3g` nats of redundancy, and weight decay on top of it removes
# a further {glue:text}`wd_extra:.3g` nats (claims `cibr-ib-redundancy` and
# `cibr-ib-wd-control` below). With the penalty ({glue:text}`ib_headline`) the run ends at
# {glue:text}`relevance_final_headline:.3g` and {glue:text}`redundancy_final_headline:.3g`
# nats.
#
# **Check: the CEB bound against the exact redundancy.** Over every arm, seed and evaluation
# step, the bound exceeds the exact $I(Z_v; X_v \mid X_t)$ by at least
# {glue:text}`ceb_excess_min:.3g` nats (it must never fall below it), and the excess equals the
# closed-form $\mathbb{E}_{x_t}\mathrm{KL}(p(z_v \mid x_t) \| b(z_v \mid x_t))$ to within
# {glue:text}`ceb_identity_residual:.1e` nats. At the end of training the bound is
# {glue:text}`ceb_gap_clip:.3g` nats above the exact value for `clip`, and only
# {glue:text}`ceb_gap_headline:.3g` nats above it for {glue:text}`ib_headline`, which
# minimises it. Data processing, $I(Z_v; Z_t) \le I(Z_v; X_t)$, holds everywhere: the
# smallest margin $I(Z_v; X_t) - I(Z_v; Z_t)$ is {glue:text}`dpi_margin:.3g` nats.

# %% tags=["hide-input"]
bound_long = ib[ib["arm"].isin(["clip", headline])].melt(
    id_vars=["arm", "step", "seed"], value_vars=["redundancy", "ceb_bound"],
    var_name="quantity", value_name="nats")
bound_long["quantity"] = bound_long["quantity"].map(
    {"redundancy": "exact I(Z_v; X_v | X_t)", "ceb_bound": "CEB upper bound"})
fig, ax = plt.subplots(figsize=(6.2, 3.8))
sns.lineplot(data=bound_long, x="step", y="nats", hue="arm", style="quantity",
             palette=method_palette(["clip", headline]), errorbar=t_interval, ax=ax)
ax.set(yscale="log", xlabel="training step", ylabel="nats (log scale)")
ax.legend(fontsize=8)
glue_figure(fig, "ceb_bound", P.label, "theory")

# %% [markdown]
# ```{glue:figure} theory-ceb_bound
# :name: fig-theory-ceb_bound
#
# The CEB upper bound with identity backward maps (dashed) and the exact redundancy
# $I(Z_v; X_v \mid X_t)$ (solid) during training, for CLIP and CLIP with the penalty (mean
# and 95% t-interval over {glue:text}`ib_n_seeds` seeds; log scale). The bound is loose for
# CLIP, which never minimises it, and nearly tight for the penalised run.
# ```
#
# **The $\lambda$ sweep.** "Compression is bought with relevance" is a statement about the
# trend in $\lambda$, so it is measured over the sweep: the final relevance and redundancy of
# each `ceb-`$\lambda$ arm, with $\lambda = 0$ the `clip` arm (same weight decay).

# %% tags=["hide-input"]
sweep_arms = ["clip"] + [arm_name(x) for x in cfg["ib_lams"]]
paired = pd.DataFrame([
    {"lam": f"{x:g}", "seed": seed, **{
        term: ib_metrics.loc[seed, f"{term}_final_{arm_name(x)}"]
        - ib_metrics.loc[seed, f"{term}_final_clip"] for term in ("relevance", "redundancy")}}
    for x in cfg["ib_lams"] for seed in ib_metrics.index])
fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
for ax, term, title in zip(axes, ("relevance", "redundancy"),
                           ("relevance I(Z_v; X_t)", "redundancy I(Z_v; X_v | X_t)")):
    sns.pointplot(data=paired, x="lam", y=term, errorbar=t_interval,
                  color=method_colour(arm_name(cfg["ib_lam"])), capsize=0.15, ax=ax)
    ax.axhline(0, ls=":", color="grey", label="as CLIP (lambda = 0)")
    ax.set(xlabel="penalty weight lambda", ylabel="final value minus CLIP's [nats]",
           title=title)
axes[0].legend(fontsize=8)
glue_figure(fig, "lambda_sweep", P.label, "theory")
top_lam = max(cfg["ib_lams"])
for key in ("relevance", "redundancy"):
    glue(f"sweep_{key}_top", float(ib_metrics[f"{key}_final_{arm_name(top_lam)}"].mean()),
         display=False)
glue("sweep_top_lam", top_lam, display=False)
red_by_lam = [float(ib_metrics[f"redundancy_final_{a}"].mean()) for a in sweep_arms]
falls = all(b < a for a, b in zip(red_by_lam, red_by_lam[1:]))
glue("sweep_shape", "falls with every step in" if falls else "does not fall monotonically in",
     display=False)

# %% [markdown]
# ```{glue:figure} theory-lambda_sweep
# :name: fig-theory-lambda_sweep
#
# Final exact relevance (left) and redundancy (right) of each penalised arm minus those of
# CLIP with the same weight decay ($\lambda = 0$), paired by seed: mean and 95% t-interval
# of the paired differences over {glue:text}`ib_n_seeds` seeds. Dotted: no change.
# ```
#
# The mean redundancy {glue:text}`sweep_shape` $\lambda$. At
# $\lambda =$ {glue:text}`sweep_top_lam:g` the run ends at a relevance of
# {glue:text}`sweep_relevance_top:.3g` and a redundancy of
# {glue:text}`sweep_redundancy_top:.3g` nats, against {glue:text}`relevance_final_clip:.3g`
# and {glue:text}`redundancy_final_clip:.3g` at $\lambda = 0$. The penalty is a trade-off, not a free lunch
# (claim `cibr-ib-tradeoff` below); whether the trade helps generalisation is the question
# the CIBR chapter asks on images and captions.
#
# ## Claims registered by this chapter
#
# The paper's theoretical claims, split into what this chapter can test, and the controls
# (all on the linear-Gaussian toy, exact information terms, paired by seed):

# %%
claims = load_claims("theory")
verdicts = evaluate_claims(load_records(profile=P.label), claims)
with pd.option_context("display.max_colwidth", 200):
    display(styled(claims_table(claims)[["id", "claim", "source"]]))
display(verdict_table(verdicts))
glue("verdict_summary", verdict_sentence(verdicts), display=False)
_ = write_download(claims_table(claims), "theory-claims")

# %% [markdown]
# Under this profile: {glue:text}`verdict_summary` (primary claims Holm-corrected; the `mde`
# column is the smallest true effect each test detects with 80% power, in nats). The notes
# that define each measure are in {download}`theory-claims.csv <downloads/theory-claims.csv>`.

# %% [markdown]
# ## Use it yourself
#
# The estimators are plain functions of a score matrix. Estimate the mutual information of
# correlated Gaussians with the optimal critic and with a learned CLIP-style critic, and
# compare with the closed form; then evaluate the CEB penalty on a batch.

# %%
import torch

from cibr_lab import info
from cibr_lab.info.critics import SeparableCritic, fit_critic

gen = torch.Generator().manual_seed(0)
dim, rho = 4, info.rho_for_mi(2.0, 4)
print(f"closed form: I(X;Y) = {float(info.gaussian_mi(rho, dim)):.3f} nats")
for n in (16, 512):  # 32 batches each: only the *mean* estimate is bounded by I
    x, y = info.sample_correlated(n, dim, torch.full((32,), rho), gen)
    est = info.infonce(info.gaussian_log_ratio(x, y, rho)).mean()
    print(f"N={n}: optimal critic {float(est):.3f} nats, log N = {math.log(n):.3f}")
critic = SeparableCritic(dim, dim)  # T(x, y) = g(x) . h(y), CLIP's form
sample = lambda n: info.sample_correlated(n, dim, torch.tensor([rho]), gen)
objective = info.get_objective("infonce")
fit_critic(critic, [objective], sample, steps=200, batch_size=128)
with torch.no_grad():
    learned = float(info.infonce(critic(*sample(128))[0]))
print(f"learned critic, N=128: {learned:.3f} nats")
# the CEB penalty at initialisation equals InfoNCE with a reweighted positive logit
print(ceb_as_reweighted_infonce(
    n=64, dim=16, lam=0.5, sigma=0.25, logit_scale=10.0, seed=1
))

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
