r"""Feldman's long-tail argument at a fixed noise level (Shah et al., paper 004, Sec. 4.2, App. B).

Shah, Kalavasis, Klivans, Daras, "Does Generation Require Memorization?" (ICML 2025), Sec. 4.2
(Thm 4.3, Lemmas 4.4, 4.5) and App. B (Def. B.1, Thm B.2, Lemmas B.4-B.9), after Feldman (2020),
"Does learning require memorization?". Subpopulations M_1..M_N with frequencies D ~ D_pi
(Def. B.1); the marginal of one frequency is the prior ``pi_bar(a) = Pr[D_i = a]`` (eq. (8)),
represented here by a :class:`FrequencyPrior` (finitely many atoms, their probabilities and N).

* :func:`tau_ell` -- the coefficient tau_l of Thm B.2 / eq. (10), the posterior mean of a
  frequency seen l times in n draws; :func:`tau_dirichlet` -- its exact Dirichlet form;
* :func:`weight`, :func:`heavy_tail_weight`, :func:`is_heavy_tailed` -- eq. (7) / App. B.3;
* :func:`lemma_b_4_rhs`, :func:`lemma_b_4_constant` (Lemma B.4), :func:`lemma_b_5_applies`
  (Lemma B.5); :func:`expected_singletons` and :func:`singletons_lower_bound` (App. B.3, with
  the printed n/2 corrected to n/e);
* :func:`smoothed_diameter_bound`, :func:`smoothed_failure_bound`, :func:`mc_smoothed_diameter`
  -- Lemma B.7 with the concentration step of its proof corrected;
* :func:`tv_isotropic`, :func:`tv_at_noise` and the separation / merging thresholds of
  Lemma 4.5 / B.8 / B.9: :func:`sigma_sep`, :func:`sigma_merge` (exact, from the erf form of the
  total variation; ``printed=True`` for the thresholds of the statements) and
  :func:`sigma_sep_proof`, :func:`sigma_merge_proof` (the proof's thresholds in Delta, with the
  Arbas et al. constants);
* :func:`merge_weights`, :func:`tau1_vs_noise` -- an extension (not in the paper): merge the
  components of a GMM whose noised TV is <= eps and recompute tau_1 (Sec. 4.2.3 narrative).

Errata handled here (catalogued in :mod:`diffmem_theory.leakage.errata`): the singleton count
uses 1/e, not 1/2; Lemma B.7's proof needs ``P[|z| >= 2 sqrt(d)] <= exp(-d/2)``; the high-noise
half of Lemma 4.5 / B.9 is false at the printed threshold (the exact one is larger); Thm B.2's
tau_l is exact only for priors such as the Dirichlet (``pi_bar = Beta(k, (N - 1) k)``).

>>> prior = FrequencyPrior.from_list(zipf_frequencies(1000))
>>> round(1000 * tau_ell(1, 1000, prior), 5)
0.55881
>>> round(float(tv_at_noise(0.5, sigma_merge(0.125, 0.5, printed=True))), 6)   # > eps: erratum
0.133906
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import pdist, squareform
from scipy.special import erf, erfinv, softmax, xlog1py, xlogy

from diffmem_theory._bounds import ranged, to_output
from diffmem_theory._validation import (
    as_float_array,
    as_rng,
    check_allocation,
    check_bool,
    check_choice,
    check_int,
    finite_result,
)

__all__ = [
    "FrequencyPrior",
    "expected_singletons",
    "heavy_tail_weight",
    "is_heavy_tailed",
    "lemma_b_4_constant",
    "lemma_b_4_rhs",
    "lemma_b_5_applies",
    "mc_smoothed_diameter",
    "merge_weights",
    "sigma_merge",
    "sigma_merge_proof",
    "sigma_sep",
    "sigma_sep_proof",
    "singletons_lower_bound",
    "smoothed_diameter_bound",
    "smoothed_failure_bound",
    "tau1_vs_noise",
    "tau_dirichlet",
    "tau_ell",
    "tv_at_noise",
    "tv_isotropic",
    "weight",
    "zipf_frequencies",
]


# --- the frequency prior pi_bar ------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FrequencyPrior:
    r"""A discrete frequency prior ``pi_bar`` (Def. B.1 / eq. (8)) for N subpopulations.

    A valid marginal has ``N E[alpha] = 1`` (:attr:`total_weight`); it is not enforced, since
    Lemmas B.4/B.5 are stated for any prior.

    Parameters
    ----------
    atoms : array_like
        Frequencies in [0, 1], at least one.
    probs : array_like, optional
        Their probabilities, >= 0 and summing to 1 (default uniform).
    N : int
        Number of subpopulations, >= 1 (keyword only).

    See Also
    --------
    FrequencyPrior.from_list : the prior of Def. B.1 for a list of frequencies.
    tau_ell : tau_l of Thm B.2 under this prior.

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), Def. B.1, eq. (8); Feldman (2020), Sec. 2.

    Examples
    --------
    >>> p = FrequencyPrior([0.1, 0.4], N=4)
    >>> p.total_weight
    1.0
    """

    atoms: np.ndarray
    probs: np.ndarray
    N: int

    def __init__(self, atoms: ArrayLike, probs: ArrayLike | None = None, *, N: int) -> None:
        a = ranged(atoms, "atoms", 0.0, 1.0).ravel()
        if a.size == 0:
            raise ValueError("atoms must be non-empty")
        p = np.full(a.size, 1.0 / a.size) if probs is None else ranged(probs, "probs", 0.0)
        p = p.ravel()
        if p.shape != a.shape or not math.isclose(float(p.sum()), 1.0, rel_tol=1e-9):
            raise ValueError(f"probs must have the shape of atoms {a.shape} and sum to 1")
        object.__setattr__(self, "atoms", a)
        object.__setattr__(self, "probs", p / p.sum())
        object.__setattr__(self, "N", check_int(N, "N", low=1))

    @property
    def total_weight(self) -> float:
        """``N E_{alpha ~ pi_bar}[alpha]`` (= 1 for the marginal of a frequency vector)."""
        return float(self.N * np.dot(self.probs, self.atoms))

    @classmethod
    def from_list(
        cls,
        pi: ArrayLike,
        *,
        method: str = "approx",
        replicas: int = 200,
        rng: Any = 0,
    ) -> FrequencyPrior:
        r"""``pi_bar`` of Def. B.1 for the list ``pi`` (N = len(pi)).

        Def. B.1: each ``p_i`` is drawn uniformly from ``pi``, ``D_i = p_i / sum_j p_j``.
        ``method="approx"``: uniform over ``pi_k / sum(pi)`` (the sum replaced by its value at
        ``p = pi``); ``"mc"``: the empirical law of the D_i of ``replicas`` draws of D.

        >>> FrequencyPrior.from_list([1.0, 1.0, 2.0]).atoms
        array([0.25, 0.25, 0.5 ])
        """
        p = ranged(pi, "pi", 0.0, low_open=True).ravel()
        check_choice(method, "method", ("approx", "mc"))
        count, gen = check_int(replicas, "replicas", low=1), as_rng(rng)  # both, for either method
        if method == "approx":
            return cls(p / p.sum(), N=p.size)
        check_allocation(3 * count * p.size, f"{count} replicas of {p.size} frequencies")
        draws = p[gen.integers(0, p.size, (count, p.size))]
        return cls((draws / draws.sum(axis=1, keepdims=True)).ravel(), N=p.size)


def zipf_frequencies(N: int, exponent: float = 1.0) -> np.ndarray:
    """The Zipf list ``pi_k = k^{-exponent} / sum_j j^{-exponent}``, k = 1..N (App. B.3).

    >>> zipf_frequencies(3).round(4)
    array([0.5455, 0.2727, 0.1818])
    """
    count = check_int(N, "N", low=1)
    check_allocation(3 * count, f"N = {count} frequencies")
    k = np.arange(1, count + 1, dtype=np.float64)
    w = k ** -float(ranged(exponent, "exponent", 0.0))
    return w / w.sum()


def _prior(prior: Any) -> FrequencyPrior:
    if not isinstance(prior, FrequencyPrior):
        raise TypeError(f"prior must be a FrequencyPrior, got {type(prior).__name__}")
    return prior


# --- tau_l (Thm B.2 / eq. (10)) ------------------------------------------------------------------


def tau_ell(ell: ArrayLike, n: int, prior: FrequencyPrior) -> Any:
    r"""``tau_l = E[alpha^{l+1} (1-alpha)^{n-l}] / E[alpha^l (1-alpha)^{n-l}]``, alpha ~ pi_bar.

    Shah et al., Thm B.2 / eq. (10) (Feldman 2020, Lemma 2.1): the posterior mean of a frequency
    seen ``l`` times among ``n`` draws, computed as the posterior average sum_i w_i a_i with
    w = softmax of the log-weights (the powers underflow for large n, and their log-sums lose
    all digits of the ratio for n ~ 1e16 and beyond). The decomposition (10) with this tau_l is
    exact for priors under which ``D_{-i} / (1 - D_i)`` is independent of ``D_i``, such as the
    Dirichlet (:func:`tau_dirichlet`); under the literal normalised list model of Def. B.1 it is
    an approximation (the independence fails for a finite list).

    Parameters
    ----------
    ell : array_like of int
        Counts l in [0, n]; vectorized.
    n : int
        Number of draws, >= 1.
    prior : FrequencyPrior
        The frequency prior pi_bar.

    Returns
    -------
    float or ndarray
        tau_l, of the shape of ``ell``.

    See Also
    --------
    tau_dirichlet : the closed form for the Dirichlet prior.
    lemma_b_4_rhs : Lemma B.4's lower bound on tau_1.

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), Thm B.2, eq. (10); Feldman (2020), Lemma 2.1.

    Examples
    --------
    >>> p = FrequencyPrior([0.001, 0.004, 0.01, 0.05, 0.2], [.3, .3, .2, .15, .05], N=100)
    >>> np.round(tau_ell([0, 1, 2, 5], 100, p), 7)
    array([0.0033884, 0.007095 , 0.0156918, 0.0491377])
    """
    n = check_int(n, "n", low=1)
    l_arr = ranged(ell, "ell", 0.0, float(n), integer=True)
    pr = _prior(prior)
    a = pr.atoms
    lp = np.log(pr.probs, where=pr.probs > 0, out=np.full(a.shape, -np.inf))
    l_col = l_arr.reshape(-1, 1)
    log_den = xlogy(l_col, a) + xlog1py(n - l_col, -a) + lp
    if np.any(np.all(np.isneginf(log_den), axis=1)):
        raise ValueError("prior gives probability 0 to the count ell (all atoms in {0, 1})")
    # tau = sum_i softmax(log_den)_i a_i: no difference of two huge log-sums (n up to 2^63)
    tau = np.sum(softmax(log_den, axis=1) * a, axis=1)
    return to_output(tau.reshape(l_arr.shape))


def tau_dirichlet(ell: ArrayLike, n: ArrayLike, N: ArrayLike, k: ArrayLike = 1.0) -> Any:
    r"""``tau_l = (k + l) / (N k + n)``: Thm B.2 for the symmetric Dirichlet(k) prior.

    With ``D ~ Dir(k, ..., k)``, ``pi_bar = Beta(k, (N-1) k)`` and ``D_{-i}/(1 - D_i)`` is
    independent of ``D_i``, so the posterior mean of ``D_i`` given ``l`` hits in n draws
    (Beta-binomial conjugacy, our derivation) is exactly tau_l of eq. (10). Evaluated with
    numerator and denominator divided by max(k, 1), so a huge k gives (1 + l/k)/(N + n/k) -> 1/N.

    Parameters
    ----------
    ell : array_like
        Counts l >= 0.
    n : array_like
        Number of draws, >= 1.
    N : array_like
        Number of subpopulations, >= 1.
    k : array_like, default 1.0
        Dirichlet concentration, > 0.

    Returns
    -------
    float or ndarray
        tau_l, of the broadcast shape of the arguments.

    See Also
    --------
    tau_ell : tau_l for any discrete prior.

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), Thm B.2; Feldman (2020), Lemma 2.1.

    Examples
    --------
    >>> tau_dirichlet(1, 1000, 1000)
    0.001
    """
    kk = ranged(k, "k", 0.0, low_open=True)
    ll, NN, nn = ranged(ell, "ell", 0.0), ranged(N, "N", 1.0), ranged(n, "n", 1.0)
    scale = np.maximum(kk, 1.0)  # numerator and denominator divided by max(k, 1): no N k overflow
    with np.errstate(over="ignore"):
        tau = (kk / scale + ll / scale) / (NN * (kk / scale) + nn / scale)
    return to_output(finite_result(tau, "tau_l"))


# --- weights and the heavy tail (eq. (7), App. B.3) ----------------------------------------------


def weight(prior: FrequencyPrior, lo: float, hi: float) -> float:
    r"""``weight(pi_bar, [lo, hi]) = N E_{alpha ~ pi_bar}[alpha 1{alpha in [lo, hi]}]``.

    Shah et al., App. B.3 (the weight below eq. (7)); equals ``E_D[sum_i D_i 1{D_i in [lo,hi]}]``,
    the expected total frequency of the subpopulations whose frequency lies in the window.

    Parameters
    ----------
    prior : FrequencyPrior
        The frequency prior pi_bar.
    lo, hi : float
        The window, ``0 <= lo <= hi``.

    Returns
    -------
    float
        The weight.

    See Also
    --------
    heavy_tail_weight : the window [1/(2n), 1/n] of eq. (7).

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), eq. (7), App. B.3; Feldman (2020), Sec. 2.

    Examples
    --------
    >>> weight(FrequencyPrior([0.1, 0.4], N=4), 0.0, 0.2)
    0.2
    """
    pr = _prior(prior)
    low = float(ranged(lo, "lo", 0.0))
    high = float(ranged(hi, "hi", low))
    inside = (pr.atoms >= low) & (pr.atoms <= high)
    return float(pr.N * np.sum(pr.probs * pr.atoms * inside))


def heavy_tail_weight(prior: FrequencyPrior, n: int) -> float:
    r"""``weight(pi_bar, [1/(2n), 1/n])``, the quantity that eq. (7) requires to be Omega(1).

    Parameters
    ----------
    prior : FrequencyPrior
        The frequency prior pi_bar.
    n : int
        Number of draws, >= 1.

    Returns
    -------
    float
        The weight of the window [1/(2n), 1/n].

    See Also
    --------
    weight, is_heavy_tailed

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), eq. (7).

    Examples
    --------
    >>> heavy_tail_weight(FrequencyPrior([0.001], N=1000), 1000)
    1.0
    """
    n = check_int(n, "n", low=1)
    return weight(prior, 1.0 / (2 * n), 1.0 / n)


def is_heavy_tailed(prior: FrequencyPrior, n: int, c: float = 0.05) -> bool:
    """Eq. (7) with an explicit constant: ``weight(pi_bar, [1/(2n), 1/n]) >= c``.

    The paper's "Omega(1)" is asymptotic; ``c`` (default 0.05) makes it a finite-n test.

    >>> is_heavy_tailed(FrequencyPrior.from_list(zipf_frequencies(1000)), 1000)
    True
    """
    return heavy_tail_weight(prior, n) >= float(ranged(c, "c", 0.0))


def lemma_b_4_rhs(prior: FrequencyPrior, n: int) -> float:
    r"""Lemma B.4 (Feldman 2020, Lemma 2.6): ``tau_1 >= weight(pi_bar, [1/(3n), 2/n]) / (5n)``.

    Returns the right-hand side. It holds for every prior when n >= 3: ``E[alpha (1 -
    alpha)^{n-1}] <= E[alpha] = 1/N`` bounds the denominator of tau_1 and the numerator is at
    least ``weight / N`` times the minimum of ``a (1 - a)^{n-1}`` over the window (see
    :func:`lemma_b_4_constant`); at n = 2 a prior with all mass at a = 1 breaks it.

    Parameters
    ----------
    prior : FrequencyPrior
        The frequency prior pi_bar.
    n : int
        Number of draws, >= 1.

    Returns
    -------
    float
        ``weight(pi_bar, [1/(3n), 2/n]) / (5n)``.

    See Also
    --------
    tau_ell : tau_1 itself.
    lemma_b_4_constant : the constant that makes the lemma hold.

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), Lemma 4.4 / B.4; Feldman (2020), Lemma 2.6.

    Examples
    --------
    >>> round(1000 * lemma_b_4_rhs(FrequencyPrior.from_list(zipf_frequencies(1000)), 1000), 5)
    0.04797
    """
    n = check_int(n, "n", low=1)
    return weight(prior, 1.0 / (3 * n), 2.0 / n) / (5 * n)


def lemma_b_4_constant(n: ArrayLike) -> Any:
    r"""``5 n min_{a in [1/(3n), 2/n]} a (1-a)^{n-1}``: Lemma B.4 holds for every prior iff >= 1.

    Since ``E[alpha (1-alpha)^{n-1}] <= E[alpha] = 1/N``, ``tau_1 >= weight * min a(1-a)^{n-1}``
    over the window; ``a(1-a)^{n-1}`` is unimodal, so the minimum is at an end point. The value
    tends to ``(5/3) e^{-1/3} = 1.19422`` and is >= 1.111 for n >= 3 (our computation: the
    minimum of the two end values over n). Evaluated in log space (finite up to n = 1.8e308).

    Parameters
    ----------
    n : array_like
        Number of draws, integers >= 1.

    Returns
    -------
    float or ndarray
        The constant, of the shape of ``n``.

    See Also
    --------
    lemma_b_4_rhs : the right-hand side of Lemma B.4.

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), Lemma B.4; Feldman (2020), Lemma 2.6.

    Examples
    --------
    >>> np.round(lemma_b_4_constant([3, 4, 5, 10]), 4)
    array([1.1111, 1.25  , 1.2647, 1.2284])
    """
    nn = ranged(n, "n", 1.0, integer=True)
    log_n = np.log(nn)
    log_ends = np.stack([-math.log(3.0) - log_n, np.minimum(math.log(2.0) - log_n, 0.0)])
    log_val = log_ends + xlog1py(nn - 1.0, -np.exp(log_ends))
    return to_output(np.exp(math.log(5.0) + log_n + log_val.min(axis=0)))


def lemma_b_5_applies(prior: FrequencyPrior, n: int, theta: float) -> bool:
    r"""Hypothesis of Lemma B.5 (Feldman 2020, Lemma 2.7); when it holds, ``tau_1 <= 2 theta``.

    ``theta <= 1/(2n)``, ``beta = weight(pi_bar, [0, theta]) > 0``, ``t = ln(1/(theta beta))``
    and ``weight(pi_bar, [theta, t/n]) = 0`` (no frequency in the gap).

    Parameters
    ----------
    prior : FrequencyPrior
        The frequency prior pi_bar.
    n : int
        Number of draws, >= 1.
    theta : float
        The frequency scale, > 0.

    Returns
    -------
    bool
        Whether the hypothesis holds.

    See Also
    --------
    tau_ell : tau_1, which the lemma bounds by ``2 theta``.

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), Lemma B.5; Feldman (2020), Lemma 2.7.

    Examples
    --------
    >>> prior = FrequencyPrior([1e-4, 0.5], [0.98, 0.02], N=100)
    >>> lemma_b_5_applies(prior, 20, 0.01), bool(tau_ell(1, 20, prior) <= 0.02)
    (True, True)
    """
    n = check_int(n, "n", low=1)
    th = float(ranged(theta, "theta", 0.0, low_open=True))
    beta = weight(prior, 0.0, th)
    if th > 1.0 / (2 * n) or beta <= 0.0:
        return False
    t = math.log(1.0 / (th * beta))
    return weight(prior, th, max(th, t / n)) == 0.0


def expected_singletons(prior: FrequencyPrior, n: int) -> float:
    r"""Expected number of subpopulations with exactly one of n draws: ``N E[n a (1-a)^{n-1}]``.

    Shah et al., App. B.3 (= ``E_D[sum_i n D_i (1 - D_i)^{n-1}]``); the powers are evaluated as
    ``exp((n - 1) log1p(-a))``.

    Parameters
    ----------
    prior : FrequencyPrior
        The frequency prior pi_bar.
    n : int
        Number of draws, >= 1.

    Returns
    -------
    float
        The expected number of singletons.

    See Also
    --------
    singletons_lower_bound : its lower bound (corrected, or as printed).

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), App. B.3.

    Examples
    --------
    >>> round(expected_singletons(FrequencyPrior([0.1], N=10), 10), 6)
    3.874205
    """
    n = check_int(n, "n", low=1)
    pr = _prior(prior)
    per_atom = n * pr.atoms * np.exp(xlog1py(n - 1.0, -pr.atoms))
    return float(pr.N * np.dot(pr.probs, per_atom))


def singletons_lower_bound(prior: FrequencyPrior, n: int, *, printed: bool = False) -> float:
    r"""Lower bound on :func:`expected_singletons`: ``(n/e) weight(pi_bar, [0, 1/n])``.

    Shah et al., App. B.3 prints ``(n/2) weight(pi_bar, [0, 1/n])`` (``printed=True``), which
    is false: with N = n and all D_i = 1/n the count is ``n (1-1/n)^{n-1}`` (3.874 < 5 at
    n = 10). The correct constant is 1/e: each atom ``a <= 1/n`` contributes ``n a (1 -
    a)^{n-1} >= n a (1 - 1/n)^{n-1}`` and ``(1 - 1/n)^{n-1} >= 1/e``.

    Parameters
    ----------
    prior : FrequencyPrior
        The frequency prior pi_bar.
    n : int
        Number of draws, >= 1.
    printed : bool, default False
        ``True``: the printed constant 1/2 (false in general).

    Returns
    -------
    float
        The lower bound.

    See Also
    --------
    expected_singletons : the exact expected count.

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), App. B.3.

    Examples
    --------
    >>> p = FrequencyPrior([0.1], N=10)
    >>> round(singletons_lower_bound(p, 10), 4), singletons_lower_bound(p, 10, printed=True)
    (3.6788, 5.0)
    """
    n = check_int(n, "n", low=1)
    factor = 0.5 if check_bool(printed, "printed") else math.exp(-1.0)
    return factor * n * weight(prior, 0.0, 1.0 / n)


# --- Lemma B.7: smoothed single representatives --------------------------------------------------


def smoothed_diameter_bound(sigma: ArrayLike, d: ArrayLike, R: ArrayLike) -> Any:
    r"""``eps(sigma, d, R) = 2 sigma^2 R + 4 sigma sqrt(d)``: Lemma B.7 made explicit.

    For ``x_t^i = sqrt(1 - sigma^2) x0 + sigma z^i`` with ``|x0| = R``: ``1 - sqrt(1-sigma^2) <=
    sigma^2`` and, on the event ``|z^i| < 2 sqrt(d)`` for all i (probability >=
    ``1 - m exp(-d/2)``, :func:`smoothed_failure_bound`), the set ``{x0, x_t^1..x_t^m}`` has
    diameter <= eps (our explicit form of the lemma's "poly(1/d)-smoothed single
    representative"). The proof of Lemma B.7 (App. D.2.2) uses ``sqrt(d)`` instead of
    ``2 sqrt(d)``, which is false: ``P[|z| > sqrt(d)]`` is about 0.48 at d = 100.

    Parameters
    ----------
    sigma : array_like
        VP noise level(s) in [0, 1] (standard deviations).
    d : array_like
        Dimension, >= 1.
    R : array_like
        Norm of x0, >= 0.

    Returns
    -------
    float or ndarray
        The diameter bound eps.

    See Also
    --------
    smoothed_failure_bound : the probability that the bound fails.
    mc_smoothed_diameter : Monte Carlo diameters to compare with.

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), Def. B.6, Lemma B.7, App. D.2.2.

    Examples
    --------
    >>> smoothed_diameter_bound(0.01, 100, 10.0)
    0.402
    """
    s = ranged(sigma, "sigma", 0.0, 1.0)
    dd = ranged(d, "d", 1.0)
    return to_output(2.0 * s * s * ranged(R, "R", 0.0) + 4.0 * s * np.sqrt(dd))


def smoothed_failure_bound(m: ArrayLike, d: ArrayLike) -> Any:
    r"""``m exp(-d/2)``: Lemma B.7's failure probability (union bound over m copies).

    Uses ``P[|z| >= 2 sqrt(d)] <= P[|z| >= E|z| + sqrt(d)] <= exp(-d/2)`` (Lipschitz
    concentration, ``E|z| <= sqrt(d)``); the printed ``P[|z| > sqrt(d)] <= exp(-d/2)`` is false
    (~0.48 at d = 100).

    Parameters
    ----------
    m : array_like
        Number of noisy copies, integers >= 1.
    d : array_like
        Dimension, >= 1.

    Returns
    -------
    float or ndarray
        The failure probability bound.

    See Also
    --------
    smoothed_diameter_bound : the diameter bound that holds outside this event.

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), Lemma B.7, App. D.2.2.

    Examples
    --------
    >>> float(smoothed_failure_bound(10, 20) / np.exp(-10.0))
    10.0
    """
    mm = ranged(m, "m", 1.0, integer=True)
    return to_output(mm * np.exp(-0.5 * ranged(d, "d", 1.0)))


def mc_smoothed_diameter(
    x0: ArrayLike, sigma: float, m: int, trials: int, rng: Any = 0
) -> np.ndarray:
    r"""Monte Carlo diameters of ``{x0, x_t^1, ..., x_t^m}``, one per trial (Lemma B.7).

    ``x_t^i = sqrt(1 - sigma^2) x0 + sigma z^i`` with standard normal ``z^i``. Coordinates
    beyond 2^500 are rescaled by a power of two (exact) so that squared distances do not
    overflow.

    Parameters
    ----------
    x0 : array_like, shape (d,)
        The representative point.
    sigma : float
        VP noise level in [0, 1].
    m : int
        Number of noisy copies, >= 1.
    trials : int
        Number of independent trials, >= 1.
    rng : numpy.random.Generator or int, default 0
        Generator or seed.

    Returns
    -------
    ndarray, shape (trials,)
        The diameter of each trial's point set.

    Raises
    ------
    ValueError
        When the points exceed the memory cap of ``_validation.check_allocation``.

    See Also
    --------
    smoothed_diameter_bound : the bound the diameters stay below with probability
        ``>= 1 - m exp(-d/2)``.

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), Lemma B.7.

    Examples
    --------
    >>> diam = mc_smoothed_diameter(np.ones(50), 0.01, 5, 100)
    >>> bool(np.all(diam <= smoothed_diameter_bound(0.01, 50, np.sqrt(50))))
    True
    """
    s = float(ranged(sigma, "sigma", 0.0, 1.0))
    x = as_float_array(x0, "x0", ndim=1, dtype=np.float64)
    m = check_int(m, "m", low=1)
    trials = check_int(trials, "trials", low=1)
    check_allocation(3 * trials * (m + 1) * x.size, f"{trials} trials of {m + 1} points")
    z = as_rng(rng).standard_normal((trials, m, x.size))
    pts = np.concatenate(
        [np.broadcast_to(x, (trials, 1, x.size)), vp_contraction(s) * x + s * z], axis=1
    )
    # squared distances overflow beyond ~1e154: rescale by a power of two (exact) there
    top = float(np.abs(pts).max())
    scale = 2.0 ** math.frexp(top)[1] if top > 2.0**500 else 1.0
    return np.array([pdist(p / scale).max() * scale for p in pts])


# --- Lemma 4.5 / B.8 / B.9: separation and merging of Gaussian components ------------------------


def vp_contraction(sigma: Any) -> Any:
    """``sqrt(1 - sigma^2)`` computed as ``sqrt((1 - sigma)(1 + sigma))`` (VP mean factor).

    >>> round(float(vp_contraction(0.6)), 12)
    0.8
    """
    return np.sqrt((1.0 - sigma) * (1.0 + sigma))


def tv_isotropic(delta: ArrayLike) -> Any:
    r"""``TV(N(mu, I), N(mu', I)) = erf(Delta / (2 sqrt 2)) = 2 Phi(Delta/2) - 1``.

    The exact total variation of two identity-covariance Gaussians with ``Delta = |mu - mu'|``
    (it depends on the projection on mu - mu' only: two 1-D normals at distance Delta differ by
    ``2 Phi(Delta/2) - 1``). Used for Lemma 4.5 / B.8 / B.9 in place of the Arbas et al.
    bounds ``Delta/200 <= TV <= Delta/sqrt(2)`` of the proof.

    Parameters
    ----------
    delta : array_like
        Distance of the means, >= 0.

    Returns
    -------
    float or ndarray
        The total variation.

    See Also
    --------
    tv_at_noise : the same total variation after VP noise.

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), App. D.2.3.

    Examples
    --------
    >>> round(tv_isotropic(0.7), 7)
    0.2736613
    """
    return to_output(erf(ranged(delta, "delta", 0.0) / (2.0 * math.sqrt(2.0))))


def tv_at_noise(C: ArrayLike, sigma: ArrayLike) -> Any:
    r"""``TV_t = erf(sqrt(1 - sigma^2) erfinv(C))``: the TV of two components with TV C at t = 0.

    Under the VP process (1) ``q_t = sum_i w_i N(sqrt(1 - sigma_t^2) mu_i, I)`` (Shah et al.,
    Sec. 4.2.3, App. D.2.3), so the distance Delta of the means contracts by ``sqrt(1 -
    sigma^2)``; with :func:`tv_isotropic`, ``Delta = 2 sqrt 2 erfinv(C)``.

    Parameters
    ----------
    C : array_like
        Total variation at t = 0, in [0, 1).
    sigma : array_like
        VP noise level(s) in [0, 1]; broadcast with ``C``.

    Returns
    -------
    float or ndarray
        The total variation at noise level sigma.

    See Also
    --------
    sigma_sep, sigma_merge : the noise levels where TV_t crosses 2 eps and eps.

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), Lemma 4.5, Lemmas B.8-B.9.

    Examples
    --------
    >>> round(tv_at_noise(0.5, 0.972422), 4)
    0.125
    """
    c = ranged(C, "C", 0.0, 1.0, high_open=True)
    s = ranged(sigma, "sigma", 0.0, 1.0)
    return to_output(erf(vp_contraction(s) * erfinv(c)))


def _eps_c(eps: ArrayLike, C: ArrayLike, factor: float) -> tuple[np.ndarray, np.ndarray]:
    c = ranged(C, "C", 0.0, 1.0, low_open=True, high_open=True)
    e = ranged(eps, "eps", 0.0, low_open=True)
    if np.any(factor * e >= c):
        raise ValueError(f"eps must be < C/{factor:g} (no such threshold otherwise), got {eps!r}")
    return e, c


def _threshold(ratio: np.ndarray) -> Any:
    """``sqrt(1 - ratio^2)`` for ratio in [0, 1)."""
    return to_output(vp_contraction(ratio))


def sigma_sep(eps: ArrayLike, C: ArrayLike, *, printed: bool = False) -> Any:
    r"""Separation threshold of Lemma 4.5 / B.8 (low noise): below it, ``TV_t > 2 eps``.

    Exact: ``sigma_sep = sqrt(1 - (erfinv(2 eps) / erfinv(C))^2)``, from :func:`tv_at_noise`
    (``TV_t > 2 eps`` iff sigma is below it). The paper states (``printed=True``)
    ``sigma_t <= sqrt(1 - (2 eps / C)^2)`` => eps-separated (Lemma 4.5; Lemma B.8 with
    C = 1/600). The printed threshold is valid for every C in (0, 1) but conservative: erf is
    concave on [0, inf), so ``erf(a x) > a erf(x)`` for a in (0, 1) and ``TV_t > a C = 2 eps``
    at ``a = 2 eps / C``.

    Parameters
    ----------
    eps : array_like
        Merging level eps > 0, with ``eps < C/2``.
    C : array_like
        Total variation of the two components at t = 0, in (0, 1).
    printed : bool, default False
        ``True``: the threshold of the statement, ``sqrt(1 - (2 eps / C)^2)``.

    Returns
    -------
    float or ndarray
        The VP noise level of the threshold.

    See Also
    --------
    sigma_merge : the high-noise (merging) threshold.
    sigma_sep_proof : the threshold of the proof, in the distance Delta of the means.
    tv_at_noise : the total variation it inverts.

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), Lemma 4.5, Lemma B.8, App. D.2.3.

    Examples
    --------
    >>> round(sigma_sep(0.125, 0.5), 6), round(sigma_sep(0.125, 0.5, printed=True), 6)
    (0.881376, 0.866025)
    """
    e, c = _eps_c(eps, C, 2.0)
    if check_bool(printed, "printed"):
        return _threshold(2.0 * e / c)
    return _threshold(erfinv(2.0 * e) / erfinv(c))


def sigma_merge(eps: ArrayLike, C: ArrayLike, *, printed: bool = False) -> Any:
    r"""Merging threshold of Lemma 4.5 / B.9 (high noise): at and above it, ``TV_t <= eps``.

    Exact: ``sigma_merge = sqrt(1 - (erfinv(eps) / erfinv(C))^2)``, from :func:`tv_at_noise`
    (``TV_t <= eps`` iff sigma is at or above it). The paper states (``printed=True``)
    ``sigma_t >= sqrt(1 - (eps / C)^2)`` => eps-merged (Lemma 4.5; Lemma B.9 with C = 1/600),
    which is **false**: by the concavity of erf, at ``a = eps / C`` the total variation is
    ``TV_t > a C = eps`` strictly. The relative excess ``(TV_t - eps) / eps`` there is ~7e-7 at
    C = 1/600, 2.5e-3 at C = 0.1, 7.1e-2 at C = 0.5 and 0.42 at C = 0.9 (eps = C/4).

    Parameters
    ----------
    eps : array_like
        Merging level eps > 0, with ``eps < C``.
    C : array_like
        Total variation of the two components at t = 0, in (0, 1).
    printed : bool, default False
        ``True``: the threshold of the statement, ``sqrt(1 - (eps / C)^2)`` (too small).

    Returns
    -------
    float or ndarray
        The VP noise level of the threshold.

    See Also
    --------
    sigma_sep : the low-noise (separation) threshold.
    sigma_merge_proof : the threshold of the proof, in the distance Delta of the means.
    tv_at_noise : the total variation it inverts.

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), Lemma 4.5, Lemma B.9, App. D.2.3.

    Examples
    --------
    >>> round(sigma_merge(0.125, 0.5), 6), round(sigma_merge(0.125, 0.5, printed=True), 6)
    (0.972422, 0.968246)
    """
    e, c = _eps_c(eps, C, 1.0)
    if check_bool(printed, "printed"):
        return _threshold(e / c)
    return _threshold(erfinv(e) / erfinv(c))


def _eps_delta(eps: ArrayLike, delta: ArrayLike, factor: float) -> tuple[np.ndarray, np.ndarray]:
    dl = ranged(delta, "delta", 0.0, low_open=True)
    e = ranged(eps, "eps", 0.0, low_open=True)
    if np.any(factor * e >= dl):
        raise ValueError(f"eps must be < delta/{factor:g} (no such threshold), got {eps!r}")
    return e, dl


def sigma_merge_proof(eps: ArrayLike, delta: ArrayLike) -> Any:
    r"""Threshold of the proof (App. D.2.3): ``sigma >= sqrt(1 - 2 (eps/Delta)^2)`` => merged.

    From ``TV <= Delta/sqrt(2)`` (Arbas et al.); a valid sufficient condition (Pinsker's
    ``TV <= Delta/2`` is tighter). A separate function, not a ``printed=`` variant of
    :func:`sigma_merge`: it is a threshold in the distance ``Delta = |mu - mu'|`` of the means,
    not in the total variation C, and its constants differ from the statement's. Requires
    ``eps < Delta/sqrt(2)``.

    Parameters
    ----------
    eps : array_like
        Merging level, > 0.
    delta : array_like
        Distance of the two means at t = 0, > 0.

    Returns
    -------
    float or ndarray
        The VP noise level of the threshold.

    See Also
    --------
    sigma_merge : the threshold of the statement in C (exact or printed).

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), App. D.2.3; Arbas, Ashtiani, Liaw (2023).

    Examples
    --------
    >>> round(sigma_merge_proof(0.01, 0.1), 6)
    0.989949
    """
    e, dl = _eps_delta(eps, delta, math.sqrt(2.0))
    return _threshold(math.sqrt(2.0) * e / dl)


def sigma_sep_proof(eps: ArrayLike, delta: ArrayLike) -> Any:
    r"""Proof threshold (App. D.2.3): ``sigma <= sqrt(1 - 200^2 (2 eps/Delta)^2)`` => separated.

    From ``TV >= Delta/200`` (Arbas et al., small-TV regime). A separate function, not a
    ``printed=`` variant of :func:`sigma_sep`: it is a threshold in the distance ``Delta`` of
    the means, not in the total variation C. Requires ``eps < Delta/400``.

    Parameters
    ----------
    eps : array_like
        Merging level, > 0.
    delta : array_like
        Distance of the two means at t = 0, > 0.

    Returns
    -------
    float or ndarray
        The VP noise level of the threshold.

    See Also
    --------
    sigma_sep : the threshold of the statement in C (exact or printed).

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), App. D.2.3; Arbas, Ashtiani, Liaw (2023).

    Examples
    --------
    >>> round(sigma_sep_proof(1e-4, 0.1), 6)
    0.916515
    """
    e, dl = _eps_delta(eps, delta, 400.0)
    return _threshold(400.0 * e / dl)


# --- extension: merging a GMM with noise and recomputing tau_1 -----------------------------------


def merge_weights(weights: ArrayLike, means: ArrayLike, sigma: float, eps: float) -> np.ndarray:
    r"""Merged mixing weights at noise sigma: components joined when ``TV_t <= eps`` (extension).

    Builds the graph "TV(N(a mu_i, I), N(a mu_j, I)) <= eps" with ``a = sqrt(1 - sigma^2)``
    (Shah et al., Sec. 4.2.3 / Lemma 4.5: merged components add their weights), takes its
    connected components and sums the weights in each. An extension, not in the paper.

    Parameters
    ----------
    weights : array_like, shape (K,)
        Mixing weights, >= 0.
    means : array_like, shape (K, d)
        Component means (identity covariances).
    sigma : float
        VP noise level in [0, 1].
    eps : float
        Merging level, >= 0.

    Returns
    -------
    ndarray
        The weights of the merged components, one per connected component.

    See Also
    --------
    tau1_vs_noise : tau_1 of the merged mixture over noise levels.
    tv_isotropic : the total variation of two components.

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), Sec. 4.2.3, Lemma 4.5.

    Examples
    --------
    >>> merge_weights([0.5, 0.3, 0.2], [[0.0], [0.1], [5.0]], 0.0, 0.05).round(2)
    array([0.8, 0.2])
    """
    w = ranged(weights, "weights", 0.0).ravel()
    mu = as_float_array(means, "means", ndim=2, dtype=np.float64)
    if mu.shape[0] != w.size:
        raise ValueError(f"means must have {w.size} rows (one per weight), got {mu.shape[0]}")
    s = float(ranged(sigma, "sigma", 0.0, 1.0))
    e = float(ranged(eps, "eps", 0.0))
    check_allocation(3 * w.size * w.size, f"the pairwise distances of {w.size} components")
    tv = tv_isotropic(vp_contraction(s) * squareform(pdist(mu)))
    _, label = connected_components(np.atleast_2d(tv <= e), directed=False)
    return np.bincount(label, weights=w)


def tau1_vs_noise(
    weights: ArrayLike, means: ArrayLike, sigmas: ArrayLike, eps: float, n: int
) -> dict[str, np.ndarray]:
    r"""tau_1, the eq. (7) weight and the singleton mass of the merged GMM per noise level.

    Extension of Sec. 4.2.3 (not in the paper): at each sigma, :func:`merge_weights`; ``pi_bar``
    is uniform over the merged weights (N = number of merged components).

    Parameters
    ----------
    weights : array_like, shape (K,)
        Mixing weights of the GMM at t = 0.
    means : array_like, shape (K, d)
        Component means (identity covariances).
    sigmas : array_like
        VP noise levels in [0, 1].
    eps : float
        Merging level of :func:`merge_weights`.
    n : int
        Number of draws (training points), >= 1.

    Returns
    -------
    dict of ndarray
        ``sigma``, ``n_components``, ``tau1`` (:func:`tau_ell`, l = 1; NaN where a single
        component is left, since then no subpopulation can be seen exactly once), ``weight``
        (:func:`heavy_tail_weight`), ``singletons`` (:func:`expected_singletons`) and
        ``singleton_mass`` = ``N E[n a^2 (1-a)^{n-1}]`` = tau_1 x singletons, the expected
        population mass of the subpopulations seen once: the most that Thm B.2's
        ``tau_1 err_Z(A, 1)`` term can cost.

    See Also
    --------
    merge_weights, tau_ell, heavy_tail_weight, expected_singletons

    References
    ----------
    Shah, Kalavasis, Klivans, Daras (2025), Sec. 4.2.3, Thm B.2.

    Examples
    --------
    >>> means = np.arange(50.0)[:, None] ** 1.5
    >>> r = tau1_vs_noise(zipf_frequencies(50), means, [0.0, 0.99], 0.3, 50)
    >>> r["n_components"].tolist(), bool(r["singleton_mass"][1] < r["singleton_mass"][0])
    ([50, 37], True)
    """
    sig = ranged(sigmas, "sigmas", 0.0, 1.0).ravel()
    n = check_int(n, "n", low=1)
    out = {key: np.full(sig.size, np.nan) for key in ("tau1", "weight", "singletons")}
    comps = np.empty(sig.size, dtype=int)
    for i, s in enumerate(sig):
        merged = merge_weights(weights, means, float(s), eps)
        prior = FrequencyPrior(merged / merged.sum(), N=merged.size)
        comps[i] = merged.size
        out["weight"][i] = heavy_tail_weight(prior, n)
        out["singletons"][i] = expected_singletons(prior, n)
        if out["singletons"][i] > 0.0:
            out["tau1"][i] = tau_ell(1, n, prior)
    mass = np.where(out["singletons"] > 0.0, out["tau1"] * out["singletons"], 0.0)
    return {"sigma": sig, "n_components": comps, **out, "singleton_mass": mass}
