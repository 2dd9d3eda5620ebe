"""Side by side with a peer library: our three denoisers against DiffusionLab's, same inputs.

    python benchmarks/bench_peer.py [--peer-python PATH] [--repeats R] [--components K]
                                    [--cases empirical gmm iso]

DiffusionLab (JAX; version 3.0.4 needs Python >= 3.12) computes the posterior mean of the same
three laws; this benchmark times, in float64 with 4,096 queries in d = 50 at t = 0.36 of the
flow-matching schedule (alpha_t = 1 - t, sigma_t = t, which both libraries define):

* ``empirical``: the memorizing denoiser of N = 10,000 points (Buchanan et al., paper 000,
  eq. (7)); ours :func:`~diffmem_theory.core.denoisers.memorizing_denoiser`;
* ``gmm``: a full-covariance mixture with K = 12 components (eq. (9)); ours
  :func:`~diffmem_theory.core.denoisers.gmm_denoiser`;
* ``iso``: an isotropic mixture with K = 12 per-component variances (eqs. (11)-(12)); ours
  :func:`~diffmem_theory.core.denoisers.iso_gmm_denoiser`.

``--components`` changes K of both mixtures (few components are where fixed costs show).

The peer runs where ``diffusionlab`` is importable: in this process, or else in the
interpreter given by ``--peer-python`` (or the environment variable ``DIFFUSIONLAB_PYTHON``),
as a subprocess of this script that reads the inputs from ``.npy`` files and answers one timed
round per request on its stdin, so the rounds of the two libraries alternate (interleaved,
best of ``--repeats`` rounds of up to 5 calls each; the peer's functions are
``jax.jit(jax.vmap(.))`` of its per-query ``x0`` functions, compiled before the first round).
The outputs are compared (largest absolute difference), then one line per denoiser gives both
times and the ratio peer / ours (> 1: ours is faster). Without the peer the script says so and
prints our times.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

B, D, T = 4096, 50, 0.36
N_EMPIRICAL, K_MIXTURE = 10_000, 12
CASES = ("empirical", "gmm", "iso")
CALLS = 5  # calls per timed round (fewer when a round passes ROUND_BUDGET seconds)
ROUND_BUDGET = 1.0
PAUSE = 0.05  # seconds between rounds: BLAS and XLA threads keep spinning after a call


def make_inputs(folder: Path, n_comp: int) -> dict[str, np.ndarray]:
    """The shared inputs (seeded), written to ``folder`` as ``.npy`` files and returned."""
    rng = np.random.default_rng(0)
    factors = rng.standard_normal((n_comp, D, D)) / np.sqrt(D)
    inputs = {
        "x": rng.standard_normal((B, D)),
        "data": rng.standard_normal((N_EMPIRICAL, D)),
        "means": 2.0 * rng.standard_normal((n_comp, D)) / np.sqrt(D),
        "covs": factors @ factors.transpose(0, 2, 1) + 0.1 * np.eye(D),
        "variances": rng.uniform(0.25, 2.0, n_comp),
    }
    for name, value in inputs.items():
        np.save(folder / f"{name}.npy", value)
    return inputs


def best_round(fn, calls: int = CALLS) -> float:
    """Seconds of the fastest call of one round of ``calls`` calls (timed one by one; the round
    ends early once it has taken ``ROUND_BUDGET`` seconds)."""
    best, began = np.inf, time.perf_counter()
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
        if time.perf_counter() - began > ROUND_BUDGET:
            break
    return best


# ---------------------------------------------------------------------------------------------
# the peer (runs under the peer's interpreter: imports neither diffmem_theory nor SciPy)
# ---------------------------------------------------------------------------------------------


def peer_functions(folder: Path, cases: tuple[str, ...]) -> dict[str, object]:
    """DiffusionLab's three denoisers on the inputs in ``folder``, jitted, each ``() -> array``."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from diffusionlab.distributions.empirical import EmpiricalDistribution
    from diffusionlab.distributions.gmm.gmm import gmm_x0
    from diffusionlab.distributions.gmm.iso_gmm import iso_gmm_x0
    from diffusionlab.dynamics import FlowMatchingProcess

    arr = {
        name: jnp.asarray(np.load(folder / f"{name}.npy"))
        for name in ("x", "data", "means", "covs", "variances")
    }
    process, t = FlowMatchingProcess(), jnp.asarray(T)
    n_comp = arr["means"].shape[0]
    priors = jnp.full(n_comp, 1.0 / n_comp)
    law = EmpiricalDistribution([(arr["data"], None)])
    per_query = {
        "empirical": lambda x: law.x0(x, t, process),
        "gmm": lambda x: gmm_x0(x, t, process, arr["means"], arr["covs"], priors),
        "iso": lambda x: iso_gmm_x0(x, t, process, arr["means"], arr["variances"], priors),
    }
    fns = {}
    for case in cases:
        batched = jax.jit(jax.vmap(per_query[case]))
        fns[case] = lambda batched=batched: batched(arr["x"]).block_until_ready()
    return fns


def peer_worker(folder: Path, cases: tuple[str, ...]) -> None:
    """Serve timed rounds: compile, save each output, then answer ``case`` lines on stdin."""
    fns = peer_functions(folder, cases)
    for case, fn in fns.items():
        np.save(folder / f"peer_{case}.npy", np.asarray(fn()))
    print("ready", flush=True)
    for line in sys.stdin:
        case = line.strip()
        if case not in fns:
            break
        print(repr(best_round(fns[case])), flush=True)


class InProcessPeer:
    """The peer imported in this process."""

    def __init__(self, folder: Path, cases: tuple[str, ...]) -> None:
        self.fns = peer_functions(folder, cases)
        self.outputs = {case: np.asarray(fn()) for case, fn in self.fns.items()}

    def round(self, case: str) -> float:
        return best_round(self.fns[case])

    def close(self) -> None:
        pass


class SubprocessPeer:
    """The peer in another interpreter, one timed round per request."""

    def __init__(self, python: str, folder: Path, cases: tuple[str, ...]) -> None:
        self.proc = subprocess.Popen(
            [python, __file__, "--peer-worker", str(folder), "--cases", *cases],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the peer interpreter {python} did not start (see its stderr)")
        self.outputs = {case: np.load(folder / f"peer_{case}.npy") for case in cases}

    def round(self, case: str) -> float:
        self.proc.stdin.write(case + "\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def find_peer(
    python: str | None, folder: Path, cases: tuple[str, ...]
) -> InProcessPeer | SubprocessPeer | None:
    try:
        import diffusionlab  # noqa: F401
    except ImportError:
        python = python or os.environ.get("DIFFUSIONLAB_PYTHON")
        return SubprocessPeer(python, folder, cases) if python else None
    return InProcessPeer(folder, cases)


# ---------------------------------------------------------------------------------------------
# ours
# ---------------------------------------------------------------------------------------------


def our_functions(inputs: dict[str, np.ndarray]) -> dict[str, object]:
    """Our three denoisers on ``inputs``, each ``() -> array``."""
    from diffmem_theory.core.denoisers import gmm_denoiser, iso_gmm_denoiser, memorizing_denoiser
    from diffmem_theory.core.schedules import FlowMatching

    x, sched = inputs["x"], FlowMatching()
    return {
        "empirical": lambda: memorizing_denoiser(x, T, inputs["data"], sched),
        "gmm": lambda: gmm_denoiser(x, T, inputs["means"], inputs["covs"], sched),
        "iso": lambda: iso_gmm_denoiser(x, T, inputs["means"], inputs["variances"], sched),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", help="an interpreter where diffusionlab is importable")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds per library")
    parser.add_argument(
        "--components", type=int, default=K_MIXTURE, help="K of the two mixtures (default 12)"
    )
    parser.add_argument("--cases", nargs="+", choices=CASES, default=CASES, help="denoisers")
    parser.add_argument("--peer-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer_worker:
        peer_worker(Path(args.peer_worker), tuple(args.cases))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        inputs = make_inputs(folder, args.components)
        ours = our_functions(inputs)
        outputs = {case: ours[case]() for case in args.cases}  # warm-up (compilation)
        peer = find_peer(args.peer_python, folder, tuple(args.cases))
        print(
            f"B = {B} queries, d = {D}, t = {T} (flow matching), float64, N = {N_EMPIRICAL}, "
            f"K = {args.components}; "
            f"best of {args.repeats} rounds of up to {CALLS} calls"
        )
        if peer is None:
            print(
                "DiffusionLab is not importable here (pass --peer-python or set "
                "DIFFUSIONLAB_PYTHON to an interpreter that has it): our times only"
            )
        best = {(who, case): np.inf for who in ("ours", "peer") for case in CASES}
        for _ in range(args.repeats):
            for case in args.cases:
                time.sleep(PAUSE)
                best["ours", case] = min(best["ours", case], best_round(ours[case]))
                if peer is not None:
                    time.sleep(PAUSE)
                    best["peer", case] = min(best["peer", case], peer.round(case))
        if peer is not None:
            peer.close()
    header = f"{'denoiser':<10} {'ours ms':>9}"
    if peer is not None:
        header += f" {'peer ms':>9} {'peer/ours':>10} {'max |diff|':>11}"
    print(header)
    for case in args.cases:
        line = f"{case:<10} {1e3 * best['ours', case]:9.3f}"
        if peer is not None:
            diff = float(np.max(np.abs(outputs[case] - peer.outputs[case])))
            ratio = best["peer", case] / best["ours", case]
            line += f" {1e3 * best['peer', case]:9.3f} {ratio:10.2f} {diff:11.2e}"
        print(line)


if __name__ == "__main__":
    main()
