r"""``paper004.separation`` and ``paper004.feldman``: the theory figures of Shah et al., Sec. 4.2.

Shah, Kalavasis, Klivans, Daras (paper 004, Sec. 4.2 and App. B). The paper has no figure
for Sec. 4.2 / App. B; these two illustrate its lemmas with the package's exact formulas.

``paper004.separation``. Two components ``N(mu, I)``, ``N(mu', I)`` with total variation C at
t = 0 have ``TV_t = erf(sqrt(1 - sigma^2) erfinv(C))`` under the VP process (1). (a) ``TV_t / C``
against sigma for C in {1/600, 0.1, 0.5, 0.9} with eps = C/4, the levels eps and 2 eps and the
thresholds of Lemma 4.5 as printed and exact: the printed low-noise threshold is below the exact
one (valid, conservative), the printed high-noise threshold is below the exact one too, so at it
the components are *not* merged (erratum). (b) The relative excess ``(TV_t - eps)/eps`` at the
printed merging threshold against C (eps = C/4): ~7e-7 at C = 1/600 (Lemma B.9), 0.071 at
C = 0.5. Quick: 200 sigmas and 30 values of C; full: 2000 and 200.

``paper004.feldman``. (a) Zipf populations (``pi_k ~ 1/k``, 'approx' pi_bar of Def. B.1):
``n tau_1`` (Thm B.2), the eq. (7) weight ``weight(pi_bar, [1/2n, 1/n])`` and ``n`` times the
Lemma B.4 lower bound against N/n for n in {300, 1000}: ``n tau_1`` stays of order 1
(tau_1 = Omega(1/n), Lemma 4.4) and above the B.4 bound. (b) Extension (not in the paper): a
2-D GMM with N = 1000 Zipf-weighted unit-covariance components at uniform means in [0, 100]^2,
components merged when ``TV_t <= eps = 0.1``
(:func:`~diffmem_theory.leakage.feldman.tau1_vs_noise`),
n = 1000. The eq. (7) weight, the expected number of singletons and the singleton mass
(tau_1 x singletons: the most the ``tau_1 err_Z(A, 1)`` term of Thm B.2 can cost) fall to 0 as
sigma -> 1, as Sec. 4.2.3 argues. tau_1 itself (the mean frequency of a subpopulation seen
once) is *not* monotone: it first rises, because the surviving singletons come from merged,
heavier clusters, and only falls once a few clusters remain. Quick: 10 values of N/n and
10 sigmas; full: 25 and 30, plus the Monte Carlo pi_bar (200 replicas) at N = n.

Examples
--------
>>> from diffmem_theory.registry import get_experiment
>>> r = get_experiment("paper004.separation").run(quick=True)
>>> bool(r["printed_merge_fails"].all()), bool(r["printed_sep_holds"].all())
(True, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diffmem_theory.leakage.feldman import (
    FrequencyPrior,
    heavy_tail_weight,
    lemma_b_4_rhs,
    sigma_merge,
    sigma_sep,
    tau1_vs_noise,
    tau_ell,
    tv_at_noise,
    zipf_frequencies,
)
from diffmem_theory.plotting import PALETTE, figure, paper_style
from diffmem_theory.registry import experiment

C_CURVES = (1 / 600, 0.1, 0.5, 0.9)
EPS_FRACTION = 0.25  # eps = C / 4
N_SIGMA = {True: 200, False: 2000}
N_C = {True: 30, False: 200}
ZIPF_N = (300, 1000)
N_RATIOS = {True: 10, False: 25}
GMM_N, GMM_BOX, GMM_EPS, GMM_SIGMAS = 1000, 100.0, 0.1, {True: 10, False: 30}


def _alpha(sigma: Any) -> Any:
    """``sqrt(1 - sigma^2)``: the VP mean contraction (and its own inverse)."""
    return np.sqrt((1.0 - sigma) * (1.0 + sigma))


def separation_curves(quick: bool = True) -> dict[str, Any]:
    """TV_t / C on a sigma grid and the printed / exact thresholds for each C of C_CURVES.

    >>> r = separation_curves()
    >>> r["tv_over_C"].shape, bool(np.all(r["merge_exact"] > r["merge_paper"]))
    ((4, 200), True)
    """
    C = np.array(C_CURVES)
    eps = EPS_FRACTION * C
    sigma = _alpha(np.geomspace(1e-2, 1.0, N_SIGMA[quick]))[::-1]
    tv = np.stack([tv_at_noise(c, sigma) for c in C]) / C[:, None]
    return {
        "C": C,
        "eps": eps,
        "sigma": sigma,
        "tv_over_C": tv,
        "sep_paper": sigma_sep(eps, C, printed=True),
        "sep_exact": sigma_sep(eps, C),
        "merge_paper": sigma_merge(eps, C, printed=True),
        "merge_exact": sigma_merge(eps, C),
    }


_THRESHOLD_MARKERS = (
    ("merge_paper", "v", "merge, printed"),
    ("merge_exact", "o", "merge, exact"),
    ("sep_paper", "^", "separation, printed"),
    ("sep_exact", "s", "separation, exact"),
)


def _plot_separation(result: dict[str, Any]) -> Any:
    fig, (ax, bx) = figure(ncols=2, aspect=0.75)
    with paper_style():
        for i, c in enumerate(result["C"]):
            label = "C = 1/600" if i == 0 else f"C = {c:g}"
            a = _alpha(result["sigma"])
            ax.semilogx(a, result["tv_over_C"][i], color=PALETTE[i], label=label)
            for key, marker, _ in _THRESHOLD_MARKERS:
                s = result[key][i]
                ax.plot(_alpha(s), tv_at_noise(c, s) / c, marker, color=PALETTE[i], mfc="none")
        ax.axhline(EPS_FRACTION, color="0.3", ls=":", lw=0.8)
        ax.axhline(2 * EPS_FRACTION, color="0.3", ls="--", lw=0.8)
        for _, marker, label in _THRESHOLD_MARKERS:
            ax.plot([], [], "k" + marker, mfc="none", label=label)
        ax.set(xlabel=r"$\sqrt{1 - \sigma_t^2}$ (VP mean contraction; noise grows to the left)")
        ax.set(ylabel=r"$\mathrm{TV}_t / C$", ylim=(0, 1.02))
        ax.set_title(r"TV between components; $\epsilon = C/4$ (:), $2\epsilon$ (--)")
        ax.legend(loc="upper left", fontsize=5.5)
        bx.loglog(result["C_grid"], result["merge_excess"], color=PALETTE[0])
        bx.set(xlabel="original TV $C$", ylabel=r"$(\mathrm{TV}_t - \epsilon)/\epsilon$")
        bx.set_title("Lemma 4.5 / B.9 high noise: excess at the printed threshold")
    return fig


@experiment(
    "paper004.separation",
    plot=_plot_separation,
    figure="Lemma 4.5 / B.8 / B.9 (no paper figure)",
    title="TV between two Gaussian components vs noise, with printed and exact thresholds",
)
def run_separation(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Curves, thresholds and the printed-threshold excess over a grid of C (deterministic)."""
    result = separation_curves(quick)
    C = np.geomspace(1e-4, 0.99, N_C[quick])
    eps = EPS_FRACTION * C
    tv_merge = tv_at_noise(C, sigma_merge(eps, C, printed=True))
    tv_sep = tv_at_noise(C, sigma_sep(eps, C, printed=True))
    return {
        **result,
        "C_grid": C,
        "merge_excess": tv_merge / eps - 1.0,
        "printed_merge_fails": tv_merge > eps,
        "printed_sep_holds": tv_sep > 2 * eps,
    }


def zipf_sweep(n: int, ratios: np.ndarray) -> dict[str, np.ndarray]:
    """n tau_1, the eq. (7) weight and n x (B.4 bound) for Zipf lists of N = ratio x n.

    >>> r = zipf_sweep(1000, np.array([1.0]))
    >>> round(float(r["n_tau1"][0]), 5), round(float(r["n_b4"][0]), 5)
    (0.55881, 0.04797)
    """
    rows = []
    for ratio in ratios:
        prior = FrequencyPrior.from_list(zipf_frequencies(round(ratio * n)))
        rows.append(
            (n * tau_ell(1, n, prior), heavy_tail_weight(prior, n), n * lemma_b_4_rhs(prior, n))
        )
    n_tau1, w, b4 = np.array(rows).T
    return {"ratio": ratios, "n_tau1": n_tau1, "weight": w, "n_b4": b4}


_ZIPF_SERIES = (("n_tau1", "o-", r"$n\tau_1$"), ("weight", "s:", "weight (7)"))
_GMM_SERIES = (
    ("n_tau1", 1.0, "o-", r"$n\tau_1$"),
    ("weight", 10.0, "s:", "10 x weight (7)"),
    ("singleton_mass", 10.0, "^--", "10 x singleton mass"),
    ("components", 1.0 / GMM_N, "d-.", "components / N"),
)


def _plot_feldman(result: dict[str, Any]) -> Any:
    fig, (ax, bx) = figure(ncols=2, aspect=0.75)
    with paper_style():
        for i, n in enumerate(result["n"]):
            z = result["zipf"][i]
            for key, style, label in (*_ZIPF_SERIES, ("n_b4", "^--", "n x B.4 bound")):
                y = np.ma.masked_equal(z[key], 0.0)  # no weight near 1/n when N << n
                ax.loglog(z["ratio"], y, style, color=PALETTE[i], ms=3, label=f"{label}, n={n}")
        if "mc_n_tau1" in result:
            ax.plot(1.0, result["mc_n_tau1"], "k*", ms=7, label=r"MC $\bar\pi$, n=1000")
        ax.set(xlabel="$N / n$ (Zipf, $\\pi_k \\propto 1/k$)", ylabel="value")
        ax.set_title(r"Zipf populations: $\tau_1 = \Omega(1/n)$ (Lemma 4.4 / B.4)")
        ax.legend(loc="best", fontsize=5.5)
        g = result["gmm"]
        for j, (key, scale, style, label) in enumerate(_GMM_SERIES):
            bx.semilogx(
                1.0 - g["sigma"], scale * g[key], style, color=PALETTE[j], ms=3, label=label
            )
        bx.invert_xaxis()
        bx.set(xlabel=r"$1 - \sigma_t$ (VP; noise grows to the right)", ylabel="value")
        bx.set_title(rf"Extension: merging at TV $\leq {GMM_EPS}$, N = n = {GMM_N}")
        bx.legend(loc="center left", fontsize=5.5)
    return fig


@experiment(
    "paper004.feldman",
    plot=_plot_feldman,
    figure="Lemma 4.4 / B.4, Sec. 4.2.3 (no paper figure)",
    title="tau_1 and the heavy-tail weight for Zipf populations, and under noise merging",
)
def run_feldman(quick: bool = True, seed: int = 0) -> dict[str, Any]:
    """Zipf sweeps for n in ZIPF_N and the GMM merging extension (means drawn from ``seed``)."""
    ratios = np.geomspace(0.1, 10.0, N_RATIOS[quick])
    rng = np.random.default_rng(seed)
    weights = zipf_frequencies(GMM_N)[rng.permutation(GMM_N)]
    means = rng.uniform(0.0, GMM_BOX, (GMM_N, 2))
    sigmas = 1.0 - np.geomspace(1.0, 1e-3, GMM_SIGMAS[quick])
    gmm = tau1_vs_noise(weights, means, sigmas, GMM_EPS, GMM_N)
    result: dict[str, Any] = {
        "n": ZIPF_N,
        "zipf": [zipf_sweep(n, ratios) for n in ZIPF_N],
        "gmm": {**gmm, "n_tau1": GMM_N * gmm["tau1"], "components": gmm["n_components"]},
    }
    if not quick:
        prior = FrequencyPrior.from_list(zipf_frequencies(1000), method="mc", rng=seed)
        result["mc_n_tau1"] = 1000 * tau_ell(1, 1000, prior)
    return result
