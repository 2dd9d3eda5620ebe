r"""Sympy derivations of the crossover point of Buchanan et al. (paper 000), Sec. 3 and eq. (14).

Each function returns a sympy expression (in the module-level symbols below) that the tests hold
against its numeric twin in :mod:`diffmem_theory.crossover.excess`:

* :func:`gen_excess_expr`, :func:`pmem_excess_expr` -- the excess losses of Thms 3.1 and 3.2;
* :func:`approx_loss_difference_expr`, :func:`crossover_expr` -- the Sec. 3 loss difference and
  its root in ``M``, eq. (14); :func:`crossover_structure` shows that ``d`` cancels, ``K`` never
  appears, the difference decreases in ``M`` and ``M_*`` is linear in ``N``;
* :func:`vptrig_schedule`, :func:`inverse_snr_expr`, :func:`kappa_expr` -- the VPTrig schedule,
  its inverse SNR ``varsigma(psi) = (1 + psi)^{-1/2}`` and ``kappa(d)`` of Thm 3.1;
* :func:`weighting_expr`, :func:`crossover_moments_expr`, :func:`crossover_ratio_expr` -- the
  means ``E_t[lambda]``, ``E_t[lambda/(psi_t s2 + 1)]`` and ``M_*/N`` for continuous
  ``t ~ Unif(t_min, t_max)`` in closed form (any ``sigma_*^2``; named weightings);
* :func:`grid_times`, :func:`crossover_moments_times_expr`, :func:`crossover_ratio_times_expr`,
  :func:`crossover_ratio_grid_expr` -- the same on a finite set of times, as exact rationals (the
  experiments' 26-point grid).

The continuous ratios are derived, not typed in: ``lambda(t)/(psi_t s2 + 1)`` is split into
partial fractions in ``t`` (a Laurent polynomial, integrated by sympy, plus a multiple of the
kernel ``1/(s2 + (1 - s2) t^2)``), and the kernel is integrated by :func:`kernel_integral_expr`
(``atan`` for ``s2 < 1``, ``atanh`` for ``s2 > 1``), whose derivative the tests check. Sympy's own
``integrate`` is not used for the kernel: sympy 1.14 returns the wrong antiderivative ``t/a`` for
``t^2/(1 - a + a t^2)`` (``a > 0``), dropping the ``atan`` term.

>>> crossover_ratio_expr("x0", s2=1)
1 - 1/(3*C)
>>> crossover_expr()
N*(C*E_lambda - E_lambda_gen)/(C*E_lambda)
"""

from __future__ import annotations

import functools
from fractions import Fraction
from typing import Any

import numpy as np
import sympy as sp

from diffmem_theory._validation import check_int

__all__ = [
    "C_KAPPA",
    "E_LAMBDA",
    "E_LAMBDA_GEN",
    "PSI",
    "S2",
    "T_MAX",
    "T_MIN",
    "C",
    "D",
    "K",
    "M",
    "N",
    "T",
    "approx_loss_difference_expr",
    "crossover_expr",
    "crossover_moments_expr",
    "crossover_moments_times_expr",
    "crossover_ratio_expr",
    "crossover_ratio_grid_expr",
    "crossover_ratio_times_expr",
    "crossover_structure",
    "gen_excess_expr",
    "grid_times",
    "inverse_snr_expr",
    "kappa_expr",
    "kernel_integral_expr",
    "pmem_excess_expr",
    "vptrig_schedule",
    "weighting_expr",
]

# --- symbols (paper 000 notation) --------------------------------------------------------------
T = sp.Symbol("t", positive=True)  # diffusion time in (0, 1)
S2 = sp.Symbol("s2", positive=True)  # sigma_*^2, the cluster variance
C = sp.Symbol("C", positive=True)  # the constant of Thm 3.2, in [1, 2]
M = sp.Symbol("M", nonnegative=True)  # number of memorized points
N = sp.Symbol("N", positive=True)  # number of training points
D = sp.Symbol("d", positive=True)  # ambient dimension
K = sp.Symbol("K", positive=True, integer=True)  # number of mixture components
PSI = sp.Symbol("psi", positive=True)  # an SNR value
C_KAPPA = sp.Symbol("c", positive=True)  # the unspecified constant inside Theta(log(d)^2/d)
T_MIN = sp.Symbol("t_min", positive=True)
T_MAX = sp.Symbol("t_max", positive=True)
E_LAMBDA = sp.Symbol("E_lambda", positive=True)  # E_t[lambda(t)]
E_LAMBDA_GEN = sp.Symbol("E_lambda_gen", positive=True)  # E_t[lambda(t)/(psi_t s2 + 1)]

_WEIGHTINGS = ("x0", "eps", "score", "v")
_MAX_GRID_STEPS = 10_000  # exact rationals per grid (sums of sympy terms beyond are minutes)


def _real(value: Any, name: str, *, positive: bool = False) -> sp.Expr:
    """``value`` as a real sympy expression (a number or a real symbolic expression).

    Rejects bools, containers, strings that are not expressions, complex or infinite numbers,
    NaN, and (``positive=True``) anything not known to be > 0; ``ValueError`` naming ``name``.
    A float becomes the exact rational of the decimal it prints as (``0.1`` is ``1/10``).
    """
    if isinstance(value, (bool, np.bool_, str, list, tuple, dict, set, np.ndarray)):
        raise ValueError(f"{name} must be a real number or sympy expression, got {value!r:.60}")
    try:
        expr = sp.sympify(value, strict=True)
    except (sp.SympifyError, TypeError, ValueError) as err:
        raise ValueError(
            f"{name} must be a real number or sympy expression, got {value!r:.60}"
        ) from err
    if not isinstance(expr, sp.Expr) or expr.is_real is False or expr.is_finite is False:
        raise ValueError(f"{name} must be a finite real number or expression, got {value!r:.60}")
    if expr.has(sp.nan, sp.zoo, sp.oo, -sp.oo, sp.I):
        raise ValueError(f"{name} must be a finite real number or expression, got {value!r:.60}")
    if positive and expr.is_positive is not True:
        raise ValueError(f"{name} must be > 0 (a positive number or symbol), got {value!r:.60}")
    # a float is read as the decimal it prints as (1e-308 -> 10^-308, 0.1 -> 1/10): the closed
    # forms are exact, and rounding inside them (1 - 1/s2 -> 1 for s2 = 1e300, then atanh(1))
    # would break them; the binary value of 1e-308 has a 1000-bit denominator (slow to factor)
    return sp.Rational(str(expr)) if expr.is_Float else expr


def _number(
    value: Any,
    name: str,
    low: Any = None,
    high: Any = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> sp.Expr:
    """A real expression; if it is a number, within ``[low, high]`` (ends open as asked)."""
    expr = _real(value, name)
    if expr.free_symbols:
        return expr
    if (low is not None and (expr < low if not low_open else expr <= low)) or (
        high is not None and (expr > high if not high_open else expr >= high)
    ):
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise ValueError(f"{name} must lie in {left}{low}, {high}{right}, got {value!r:.60}")
    return expr


def _s2(s2: Any) -> sp.Expr:
    """sigma_*^2: the symbol ``s2`` for None, else a positive number or positive expression."""
    return S2 if s2 is None else _real(s2, "s2", positive=True)


def _times_pair(t_min: Any, t_max: Any) -> tuple[sp.Expr, sp.Expr]:
    """``0 <= t_min < t_max <= 1`` where they are numbers (symbols such as T_MIN pass)."""
    lo = _number(t_min, "t_min", 0, 1, high_open=True)
    hi = _number(t_max, "t_max", 0, 1, low_open=True)
    if not (lo.free_symbols or hi.free_symbols) and not bool(lo < hi):
        raise ValueError(f"t_min must be < t_max, got t_min = {t_min!r}, t_max = {t_max!r}")
    return lo, hi


# --- schedule --------------------------------------------------------------------------------
@functools.cache
def vptrig_schedule() -> dict[str, sp.Expr]:
    r"""VPTrig in closed form: ``alpha^2 = 1 - t^2``, ``sigma^2 = t^2``, ``psi = (1 - t^2)/t^2``.

    Buchanan et al. (paper 000), Sec. 2 (the schedule of every experiment). Also returns the
    generalizing fraction of Thm 3.1,

        gen = 1/(psi_t s2 + 1) = t^2/(s2 (1 - t^2) + t^2)    (key "gen"; "gen_s2_1": t^2 at s2 = 1),

    and ``psi/(psi + 1) = alpha^2`` (key "psi_frac").

    >>> sch = vptrig_schedule()
    >>> sch["psi"], sch["gen"], sch["gen_s2_1"]
    ((1 - t**2)/t**2, t**2/(s2*(1 - t**2) + t**2), t**2)
    """
    alpha2 = 1 - T**2
    sigma2 = T**2
    psi = alpha2 / sigma2
    gen = sp.cancel(1 / (psi * S2 + 1))
    # present it in the paper's shape t^2 / (s2 (1 - t^2) + t^2)
    gen_shaped = T**2 / (S2 * (1 - T**2) + T**2)
    assert sp.cancel(gen - gen_shaped) == 0
    return {
        "alpha2": alpha2,
        "sigma2": sigma2,
        "psi": psi,
        "gen": gen_shaped,
        "gen_s2_1": sp.cancel(gen_shaped.subs(S2, 1)),
        "psi_frac": sp.cancel(psi / (psi + 1)),
    }


@functools.cache
def inverse_snr_expr() -> sp.Expr:
    r"""The inverse SNR of VPTrig, ``varsigma(psi) = (1 + psi)^{-1/2}``, by solving ``psi_t = psi``.

    Buchanan et al. (paper 000), Sec. 2: ``psi_t = alpha_t^2/sigma_t^2`` decreases on (0, 1) with
    inverse ``varsigma``; for VPTrig ``(1 - t^2)/t^2 = psi`` has the single root ``t > 0`` below.

    >>> inverse_snr_expr()
    1/sqrt(psi + 1)
    """
    (root,) = sp.solve(sp.Eq(vptrig_schedule()["psi"], PSI), T)
    return sp.simplify(root)


@functools.cache
def kappa_expr() -> sp.Expr:
    r"""``kappa(d) = varsigma(c log(d)^2/d) = (1 + c log(d)^2/d)^{-1/2}`` for VPTrig.

    Buchanan et al. (paper 000), Thm 3.1 and Prop F.4: the excess-loss laws hold on
    ``t in (0, kappa(d)]`` with ``kappa(d) = varsigma(Theta(log(d)^2/d))``; ``c`` is the
    unspecified constant of the Theta. ``kappa(d) -> 1`` as ``d -> oo``.

    Returns
    -------
    sympy.Expr
        ``(1 + c log(d)^2/d)^{-1/2}`` in the symbols ``c`` and ``d``.

    See Also
    --------
    diffmem_theory.crossover.excess.kappa : the numeric twin.
    inverse_snr_expr : ``varsigma``.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Theorem 3.1, Proposition F.4.

    Examples
    --------
    >>> kappa_expr()
    1/sqrt(c*log(d)**2/d + 1)
    >>> sp.limit(kappa_expr(), D, sp.oo)
    1
    """
    return inverse_snr_expr().subs(PSI, C_KAPPA * sp.log(D) ** 2 / D)


# --- excess losses and the loss difference -----------------------------------------------------
@functools.cache
def gen_excess_expr(s2: Any = None) -> sp.Expr:
    r"""Generalizing excess loss ``d s2/(psi_t s2 + 1)`` of Thm 3.1 for VPTrig, in ``t``.

    Buchanan et al. (paper 000), Thm 3.1 / F.1: ``d s2/(psi_t s2 + 1) = d s2 sigma_t^2/(alpha_t^2
    s2 + sigma_t^2)``; with VPTrig ``d s2 t^2/(s2 (1 - t^2) + t^2)``, which is ``d t^2`` at
    ``s2 = 1``. ``s2=None`` keeps the symbol ``s2``.

    Parameters
    ----------
    s2 : number, optional
        The cluster variance ``sigma_*^2 > 0``; ``None`` keeps the symbol ``s2``.

    Returns
    -------
    sympy.Expr
        ``d s2 t^2/(s2 (1 - t^2) + t^2)`` in the symbols ``d``, ``t`` (and ``s2``).

    See Also
    --------
    diffmem_theory.crossover.excess.gen_excess_loss : the numeric twin.
    pmem_excess_expr : the partially memorizing excess loss.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Theorem 3.1 and Theorem F.1.

    Examples
    --------
    >>> gen_excess_expr(1)
    d*t**2
    """
    sch = vptrig_schedule()
    s2v = _s2(s2)
    expr = D * S2 * sch["sigma2"] / (sch["alpha2"] * S2 + sch["sigma2"])
    assert sp.cancel(expr - D * S2 / (sch["psi"] * S2 + 1)) == 0  # the two forms of Thm F.1
    return sp.factor(expr.subs(S2, s2v))


def pmem_excess_expr() -> sp.Expr:
    r"""Partially memorizing excess loss ``C (1 - M/N) d s2`` of Thm 3.2 (independent of ``t``).

    Buchanan et al. (paper 000), Thm 3.2 / F.3, ``1 <= C <= 2``.

    Returns
    -------
    sympy.Expr
        ``C (1 - M/N) d s2``.

    See Also
    --------
    diffmem_theory.crossover.excess.pmem_excess_loss : the numeric twin.
    gen_excess_expr : the generalizing excess loss.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Theorem 3.2 and Theorem F.3.

    Examples
    --------
    >>> sp.factor(pmem_excess_expr())
    -C*d*s2*(M - N)/N
    """
    return C * (1 - M / N) * D * S2


def approx_loss_difference_expr(
    mean_lambda: Any = E_LAMBDA, mean_lambda_gen: Any = E_LAMBDA_GEN
) -> sp.Expr:
    r"""Approximate expected loss difference ``L_N(xbar_pmem,M) - L_N(xbar_*)`` of Sec. 3.

    Buchanan et al. (paper 000), Sec. 3 (display before eq. (14)):

        E_t[lambda {C (1 - M/N) d s2 - d s2/(psi_t s2 + 1)}]
            = C (1 - M/N) d s2 E_t[lambda] - d s2 E_t[lambda/(psi_t s2 + 1)]

    by linearity of ``E_t`` (the first excess does not depend on ``t``). ``mean_lambda`` and
    ``mean_lambda_gen`` default to the symbols ``E_lambda`` and ``E_lambda_gen``.

    Parameters
    ----------
    mean_lambda : sympy expression or number, optional
        ``E_t[lambda]``; default the symbol ``E_lambda``.
    mean_lambda_gen : sympy expression or number, optional
        ``E_t[lambda/(psi_t s2 + 1)]``; default the symbol ``E_lambda_gen``.

    Returns
    -------
    sympy.Expr
        The loss difference, linear in ``M``.

    See Also
    --------
    diffmem_theory.crossover.excess.approx_loss_difference : the numeric twin.
    crossover_expr : its root in ``M``.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), Sec. 3, the display before eq. (14).

    Examples
    --------
    >>> delta = approx_loss_difference_expr()
    >>> sp.expand(delta - (C * (1 - M / N) * D * S2 * E_LAMBDA - D * S2 * E_LAMBDA_GEN))
    0
    """
    mean_w = _real(mean_lambda, "mean_lambda")
    mean_wg = _real(mean_lambda_gen, "mean_lambda_gen")
    return pmem_excess_expr() * mean_w - D * S2 * mean_wg


@functools.cache
def crossover_expr() -> sp.Expr:
    r"""Eq. (14): the root ``M_*`` of :func:`approx_loss_difference_expr` by ``sympy.solve``.

    Buchanan et al. (paper 000), eq. (14):

        M_* = N {1 - E_t[lambda/(psi_t s2 + 1)] / (C E_t[lambda])}.

    Returns
    -------
    sympy.Expr
        ``M_*`` in the symbols ``N``, ``C``, ``E_lambda``, ``E_lambda_gen``.

    See Also
    --------
    diffmem_theory.crossover.excess.crossover_M : the numeric twin.
    crossover_structure : the structural facts derived from it.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), eq. (14).

    Examples
    --------
    >>> sp.simplify(crossover_expr() - N * (1 - E_LAMBDA_GEN / (C * E_LAMBDA)))
    0
    """
    (root,) = sp.solve(sp.Eq(approx_loss_difference_expr(), 0), M)
    return sp.factor(root)


@functools.cache
def crossover_structure() -> dict[str, Any]:
    r"""The structural facts of Sec. 3 about eq. (14), each derived with sympy.

    Buchanan et al. (paper 000), Sec. 3 and eq. (14):

    * ``free_symbols``: those of ``M_*`` -- ``{N, C, E_lambda, E_lambda_gen}``: ``d`` cancels and
      ``K`` never appears (nor ``s2``, except through ``E_lambda_gen``);
    * ``dDelta_dM = -C d s2 E_t[lambda]/N < 0``: the loss difference decreases in ``M``;
    * ``d2M_dN2 = 0`` and ``M_at_N0 = 0``: ``M_*`` is linear (proportional) in ``N``;
    * ``ratio = M_*/N``, unchanged when ``lambda`` is rescaled (``rescale_invariant``).

    >>> st = crossover_structure()
    >>> sorted(map(str, st["free_symbols"])), st["dDelta_dM"]
    (['C', 'E_lambda', 'E_lambda_gen', 'N'], -C*E_lambda*d*s2/N)
    >>> st["d2M_dN2"], st["M_at_N0"], st["rescale_invariant"]
    (0, 0, True)
    """
    m_star = crossover_expr()
    ratio = sp.simplify(m_star / N)
    k = sp.Symbol("k", positive=True)
    scale = {E_LAMBDA: k * E_LAMBDA, E_LAMBDA_GEN: k * E_LAMBDA_GEN}
    rescaled = ratio.subs(scale, simultaneous=True)
    return {
        "free_symbols": m_star.free_symbols,
        "dDelta_dM": sp.simplify(sp.diff(approx_loss_difference_expr(), M)),
        "d2M_dN2": sp.diff(m_star, N, 2),
        "M_at_N0": m_star.subs(N, 0),
        "ratio": ratio,
        "rescale_invariant": sp.simplify(rescaled - ratio) == 0,
    }


# --- loss weightings and the continuous crossover ratio ----------------------------------------
def weighting_expr(weighting: str) -> sp.Expr:
    r"""The loss weighting ``lambda(t)`` of a prediction unit for VPTrig, an expression in ``t``.

    Buchanan et al. (paper 000), eq. (6) and Sec. 2: ``"x0"``: 1; ``"eps"``: ``psi_t =
    alpha^2/sigma^2``; ``"score"``: ``alpha^2/sigma^4``; ``"v"``: ``((alpha^2 + sigma^2)/sigma)^2``
    (as :func:`diffmem_theory.core.losses.loss_weighting`).

    >>> [weighting_expr(w) for w in ("x0", "eps", "score", "v")]
    [1, (1 - t**2)/t**2, (1 - t**2)/t**4, t**(-2)]
    """
    if weighting not in _WEIGHTINGS:
        raise ValueError(f"weighting must be one of {list(_WEIGHTINGS)}, got {weighting!r}")
    sch = vptrig_schedule()
    a2, v = sch["alpha2"], sch["sigma2"]
    forms = {"x0": sp.Integer(1), "eps": a2 / v, "score": a2 / v**2, "v": (a2 + v) ** 2 / v}
    return forms[weighting]


def _branch(s2: sp.Expr) -> str:
    """'lt', 'eq' or 'gt': where the number s2 lies relative to 1 (1.0 is 1)."""
    if (s2 - 1).is_zero:
        return "eq"
    return "lt" if bool(s2 < 1) else "gt"


def kernel_integral_expr(x: Any = T, s2: Any = S2, branch: str | None = None) -> sp.Expr:
    r"""``int_0^x dt/(s2 + (1 - s2) t^2)`` for ``0 < x <= 1``, by the sign of ``q = 1 - s2``.

    The one non-polynomial integral behind :func:`crossover_ratio_expr` (Buchanan et al.,
    paper 000, eq. (14) with VPTrig):

        s2 < 1:  atan(x sqrt(q/s2)) / sqrt(q s2),
        s2 = 1:  x,
        s2 > 1:  atanh(x sqrt(-q/s2)) / sqrt(-q s2)   (the argument is < 1 for x <= 1).

    ``branch`` ("lt", "eq", "gt") is required when ``s2`` is a symbol. ``x`` (a number in
    (0, 1] or an expression) and ``s2 > 0`` are validated (``ValueError``).

    >>> kernel_integral_expr(1, sp.Rational(1, 2))
    pi/2
    >>> sp.simplify(sp.diff(kernel_integral_expr(T, S2, "gt"), T) - 1 / (S2 + (1 - S2) * T**2))
    0
    """
    x = _number(x, "x", 0, 1, low_open=True)
    s2 = _real(s2, "s2", positive=True)
    if branch is None:
        if s2.free_symbols:
            raise ValueError("branch ('lt', 'eq' or 'gt') is required for a symbolic s2")
        branch = _branch(s2)
    q = 1 - s2
    if branch == "lt":
        return sp.atan(x * sp.sqrt(q / s2)) / sp.sqrt(q * s2)
    if branch == "gt":
        return sp.atanh(x * sp.sqrt(-q / s2)) / sp.sqrt(-q * s2)
    if branch == "eq":
        return x
    raise ValueError(f"branch must be 'lt', 'eq' or 'gt', got {branch!r}")


def _definite(expr: sp.Expr, lo: sp.Expr, hi: sp.Expr, s2: sp.Expr, branch: str) -> sp.Expr:
    """int_lo^hi expr dt for expr rational in t: Laurent part by sympy, the kernel by hand."""
    kernel_den = s2 + (1 - s2) * T**2
    total = sp.Integer(0)
    for term in sp.Add.make_args(sp.apart(sp.cancel(expr), T) if branch != "eq" else expr):
        coeff = sp.cancel(term * kernel_den)
        if branch != "eq" and not coeff.has(T):
            anti = kernel_integral_expr(T, s2, branch)
            total += coeff * (anti.subs(T, hi) - anti.subs(T, lo))
        else:
            total += sp.integrate(sp.expand(term), (T, lo, hi))
    return total


def _moments_branch(
    weighting: str, s2: sp.Expr, t_min: sp.Expr, t_max: sp.Expr, branch: str
) -> tuple[sp.Expr, sp.Expr]:
    """(E_t[lambda], E_t[lambda g]) for t ~ Unif(t_min, t_max), lower end T_MIN if t_min = 0."""
    lam = weighting_expr(weighting)
    gen = vptrig_schedule()["gen"].subs(S2, s2)
    if branch == "eq":
        gen = sp.cancel(gen.subs(S2, 1))
    lo = T_MIN if t_min == 0 else t_min
    mean_w = _definite(lam, lo, t_max, s2, branch) / (t_max - lo)
    mean_wg = _definite(sp.cancel(lam * gen), lo, t_max, s2, branch) / (t_max - lo)
    return mean_w, mean_wg


@functools.cache
def _ratio_branch(
    weighting: str, s2: sp.Expr, t_min: sp.Expr, t_max: sp.Expr, branch: str
) -> sp.Expr:
    mean_w, mean_wg = _moments_branch(weighting, s2, t_min, t_max, branch)
    tidy = sp.simplify if branch == "eq" else sp.factor
    if t_min != 0:
        return 1 - tidy(mean_wg / mean_w) / C
    if sp.limit(mean_w, T_MIN, 0, "+").is_finite:  # lambda integrable at 0: set t_min = 0
        return 1 - tidy((mean_wg / mean_w).subs(T_MIN, 0)) / C
    # E_t[lambda] = oo: the ratio is the limit t_min -> 0+ of the truncated one
    return sp.limit(1 - mean_wg / (C * mean_w), T_MIN, 0, "+")


@functools.cache
def crossover_moments_expr(
    weighting: str = "x0", s2: Any = 1, t_min: Any = T_MIN, t_max: Any = 1
) -> tuple[sp.Expr, sp.Expr]:
    r"""``(E_t[lambda], E_t[lambda/(psi_t s2 + 1)])`` for VPTrig, ``t ~ Unif(t_min, t_max)``.

    Buchanan et al. (paper 000), eq. (14): the two means whose ratio gives ``M_*/N``; feed them to
    :func:`approx_loss_difference_expr`. ``s2`` must be a positive number here (see
    :func:`crossover_ratio_expr` for the symbolic ``s2``); ``t_min = 0`` gives ``oo`` (an infinite
    ``E_t[lambda]``, the true value) for a weighting not integrable at 0.

    >>> e_w, e_wg = crossover_moments_expr("eps", 1, T_MIN)
    >>> sp.simplify(e_w - (1 - T_MIN) / T_MIN), sp.simplify(e_wg - (1 - T_MIN) * (2 + T_MIN) / 3)
    (0, 0)
    >>> crossover_moments_expr("eps", 1, 0)
    (oo, 2/3)
    """
    s2v = _real(s2, "s2", positive=True)
    t_min, t_max = _times_pair(t_min, t_max)
    if s2v.free_symbols:
        raise ValueError(f"s2 must be a positive number, got {s2!r}")
    mean_w, mean_wg = _moments_branch(weighting, s2v, t_min, t_max, _branch(s2v))
    if t_min == 0:
        mean_w, mean_wg = (sp.limit(m, T_MIN, 0, "+") for m in (mean_w, mean_wg))
    return sp.factor(mean_w), sp.factor(mean_wg)


def crossover_ratio_expr(
    weighting: str = "x0", s2: Any = None, t_min: Any = 0, t_max: Any = 1
) -> sp.Expr:
    r"""``M_*/N`` of eq. (14) for VPTrig and continuous ``t ~ Unif(t_min, t_max)``, in closed form.

    Buchanan et al. (paper 000), eq. (14): ``M_*/N = 1 - E_t[lambda g]/(C E_t[lambda])`` with
    ``g = 1/(psi_t s2 + 1) = t^2/(s2 + (1 - s2) t^2)``. Closed forms (``t_min = 0, t_max = 1``):

    * ``lambda = 1`` ("x0"): ``1 - 1/(3C)`` at ``s2 = 1``; for general ``s2``, with ``q = 1 - s2``,

          s2 < 1:  1 - [1 - sqrt(s2/q) atan(sqrt(q/s2))] / (C q),
          s2 > 1:  1 - [sqrt(s2/(-q)) atanh(sqrt(-q/s2)) - 1] / (C (-q)),

      i.e. ``E_t[g] = (1 - atan(sqrt(u))/sqrt(u))/(1 - s2)``, ``u = (1 - s2)/s2`` (1/3 at s2 = 1,
      with ``atan(sqrt(u))/sqrt(u) = atanh(sqrt(-u))/sqrt(-u)`` for ``u < 0``);
    * ``lambda = psi`` ("eps"), ``s2 = 1``: ``1 - t_min (2 + t_min)/(3C)`` for ``t_max = 1``;
      ``E_t[psi] = oo`` at ``t_min = 0``, and ``sympy.limit`` gives ``M_*/N = 1``.

    ``s2=None`` keeps the symbol ``s2`` and returns a ``Piecewise`` over ``s2 < 1``, ``s2 = 1``,
    ``s2 > 1``; a number selects its branch. ``t_min`` and ``t_max`` may be numbers or the symbols
    :data:`T_MIN`, :data:`T_MAX` (``0 <= t_min < t_max <= 1``); ``t_min = 0`` takes the limit
    ``t_min -> 0+``. The weighting is one of "x0", "eps", "score", "v" (:func:`weighting_expr`).

    Parameters
    ----------
    weighting : {"x0", "eps", "score", "v"}
        The loss weighting ``lambda``.
    s2 : number, optional
        The cluster variance ``sigma_*^2 > 0``; ``None`` keeps the symbol ``s2``.
    t_min, t_max : number or sympy symbol
        The range of ``t`` (default 0 and 1).

    Returns
    -------
    sympy.Expr
        ``M_*/N`` in the symbol ``C`` (and ``s2``, ``t_min``, ``t_max`` where kept symbolic).

    See Also
    --------
    diffmem_theory.crossover.excess.crossover_ratio : the numeric twin (quadrature).
    crossover_ratio_grid_expr : the same on the experiments' time grid.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), eq. (14).

    Examples
    --------
    >>> sp.simplify(crossover_ratio_expr("x0", s2=sp.Rational(1, 2)) - (1 - (2 - sp.pi / 2) / C))
    0
    >>> crossover_ratio_expr("eps", s2=1, t_min=T_MIN)
    1 - t_min*(t_min + 2)/(3*C)
    >>> crossover_ratio_expr("eps", s2=1)
    1
    """
    weighting_expr(weighting)  # validates the name
    t_min, t_max = _times_pair(t_min, t_max)
    if s2 is None:
        return sp.Piecewise(
            (_ratio_branch(weighting, S2, t_min, t_max, "lt"), S2 < 1),
            (_ratio_branch(weighting, sp.Integer(1), t_min, t_max, "eq"), sp.Eq(S2, 1)),
            (_ratio_branch(weighting, S2, t_min, t_max, "gt"), True),
        )
    s2v = _real(s2, "s2", positive=True)
    if s2v.free_symbols:
        raise ValueError(f"s2 must be a positive number or None (symbolic), got {s2!r}")
    return _ratio_branch(weighting, s2v, t_min, t_max, _branch(s2v))


# --- finite sets of times: exact rationals -------------------------------------------------------
def grid_times(n_steps: int = 25, eps: Any = Fraction(1, 1000)) -> list[sp.Rational]:
    r"""The experiments' time grid as exact rationals, ``t_l = 1 - eps - (1 - 2 eps) l/n_steps``.

    Buchanan et al. (paper 000), Sec. 4 and App. H.1: with the defaults
    ``t_l = 999/1000 - 998 l/25000``, ``l = 0..25`` (:meth:`VPTrig.time_grid`).

    ``1 <= n_steps <= 10,000`` and ``0 < eps < 1/2``.

    >>> g = grid_times()
    >>> len(g), g[0], g[16], g[-1]
    (26, 999/1000, 9007/25000, 1/1000)
    """
    n_steps = check_int(n_steps, "n_steps", low=1, high=_MAX_GRID_STEPS)
    e = _number(eps, "eps", 0, sp.Rational(1, 2), low_open=True, high_open=True)
    if e.free_symbols:
        raise ValueError(f"eps must be a number, got {eps!r}")
    e = sp.Rational(e) if e.is_Rational else sp.nsimplify(e, rational=True)
    return [1 - e - (1 - 2 * e) * sp.Rational(l, n_steps) for l in range(n_steps + 1)]


def crossover_moments_times_expr(
    times: Any, weighting: str = "x0", s2: Any = 1
) -> tuple[sp.Expr, sp.Expr]:
    r"""``(E_t[lambda], E_t[lambda/(psi_t s2 + 1)])`` for ``t`` uniform on a finite set of times.

    Buchanan et al. (paper 000), eq. (14) and Sec. 4.1 (the experiments average over a grid):
    ``mean_l lambda(t_l)`` and ``mean_l lambda(t_l) g(t_l)``, ``g = t^2/(s2 (1 - t^2) + t^2)``,
    VPTrig; exact rationals for rational times and ``s2``. ``s2=None`` keeps the symbol ``s2``.

    >>> crossover_moments_times_expr([sp.Rational(1, 2)], "eps")
    (3, 3/4)
    """
    lam = weighting_expr(weighting)
    gen = vptrig_schedule()["gen"].subs(S2, _s2(s2))
    if isinstance(times, (str, bytes)) or not hasattr(times, "__iter__"):
        raise ValueError(f"times must be a sequence of times in (0, 1), got {times!r:.60}")
    if len(times) > _MAX_GRID_STEPS + 1:
        raise ValueError(f"times must hold at most {_MAX_GRID_STEPS + 1} times, got {len(times)}")
    ts = [_number(t, "times[i]", 0, 1, low_open=True, high_open=True) for t in times]
    if not ts:
        raise ValueError("times must hold at least one time")
    n = len(ts)
    mean_w = sp.Add(*(lam.subs(T, t) for t in ts)) / n
    mean_wg = sp.Add(*((lam * gen).subs(T, t) for t in ts)) / n
    return mean_w, mean_wg


def crossover_ratio_times_expr(times: Any, weighting: str = "x0", s2: Any = 1) -> sp.Expr:
    r"""``M_*/N`` of eq. (14) for ``t`` uniform on a finite set of (exact) times, VPTrig.

    Buchanan et al. (paper 000), eq. (14) with ``E_t`` the average over ``times``:
    ``1 - sum_l lambda(t_l) g(t_l) / (C sum_l lambda(t_l))``, ``g = t^2/(s2 (1 - t^2) + t^2)``;
    rational in ``C`` when the times and ``s2`` are rational. One time ``t``, ``lambda = 1``,
    ``s2 = 1``: ``1 - t^2/C`` (``t_16 = 9007/25000``: 0.8702 for C = 1).

    Parameters
    ----------
    times : sequence of numbers
        The times ``t_l`` in ``(0, 1)`` (exact rationals for an exact result).
    weighting : {"x0", "eps", "score", "v"}
        The loss weighting ``lambda``.
    s2 : number, default 1
        The cluster variance ``sigma_*^2 > 0``.

    Returns
    -------
    sympy.Expr
        ``M_*/N`` in the symbol ``C``.

    See Also
    --------
    diffmem_theory.crossover.excess.crossover_ratio : the numeric twin (``times=``).
    crossover_ratio_grid_expr : on the 26-point grid.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), eq. (14).

    Examples
    --------
    >>> crossover_ratio_times_expr([sp.Rational(1, 2)])
    1 - 1/(4*C)
    >>> round(float(crossover_ratio_times_expr([grid_times()[16]]).subs(C, 1)), 4)
    0.8702
    """
    mean_w, mean_wg = crossover_moments_times_expr(times, weighting, s2)
    return 1 - (mean_wg / mean_w) / C


def crossover_ratio_grid_expr(weighting: str = "x0", s2: Any = 1, n_steps: int = 25) -> sp.Expr:
    r"""``M_*/N`` on the experiments' 26-point grid as an exact rational in ``C``.

    Buchanan et al. (paper 000), eq. (14) on the grid of :func:`grid_times`; for ``lambda = 1``
    and ``s2 = 1`` it is ``1 - mean_l(t_l^2)/C``:
    0.66036 (C = 1) and 0.83018 (C = 2) to 5 digits; exactly,
    ``mean_l t_l^2 = 8491009/25000000 = 0.33964036``. ``lambda = psi``: 0.99998285 (C = 1).

    Parameters
    ----------
    weighting : {"x0", "eps", "score", "v"}
        The loss weighting ``lambda``.
    s2 : number, default 1
        The cluster variance ``sigma_*^2 > 0``.
    n_steps : int, default 25
        The grid has ``n_steps + 1`` points (:func:`grid_times`).

    Returns
    -------
    sympy.Expr
        ``M_*/N`` as an exact rational function of ``C``.

    See Also
    --------
    diffmem_theory.crossover.excess.crossover_ratio : the numeric twin.
    crossover_ratio_times_expr : any finite set of times.

    References
    ----------
    Buchanan, Pai, Ma, De Bortoli, "On the Edge of Memorization in Diffusion Models"
    (paper 000), eq. (14), Sec. 4 and App. H.1.

    Examples
    --------
    >>> r = crossover_ratio_grid_expr("x0")
    >>> r, r.subs(C, 1), r.subs(C, 2)
    (1 - 8491009/(25000000*C), 16508991/25000000, 41508991/50000000)
    >>> print(sp.N(crossover_ratio_grid_expr("eps").subs(C, 1), 8))
    0.99998285
    """
    return crossover_ratio_times_expr(grid_times(n_steps), weighting, s2)
