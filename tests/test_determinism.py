"""Same seed, same bits, whatever the number of Numba threads (issue 14, item 2).

Each workload runs in a fresh interpreter with ``NUMBA_NUM_THREADS`` = 1, 2 and 4 (the thread
count is fixed when Numba starts, so it cannot vary inside one process); the results are
compared as raw bytes (``tobytes()``), not with a tolerance:

* training: :func:`~diffmem_theory.core.training.train_gmm_denoiser` at paper 000's quick size
  (N = 200, d = 50, K = 12, N_dup = 10, so B = 2,000 noisy queries an epoch: 8 query blocks)
  with M = 20 for 200 epochs, and one :func:`~diffmem_theory.core.training.gmm_loss_and_grad` call
  on 3,000 queries (the unfused path);
* :func:`~diffmem_theory.voronoi.dynamics.reverse_ode` on 64 trajectories, in s and in t;
* :func:`~diffmem_theory.core.denoisers.memorizing_denoiser` (through the softmax kernel
  ``kernels.softmax_weighted_sum``) at a size large enough to run in parallel.

The processes must run the same machine code: they load it from Numba's on-disk cache, which
the tests run before this module have written. Code compiled in the process itself gives other
last bits than the same code loaded from the cache, a known defect recorded by the xfail
``test_compiled_and_cached_code_give_the_same_bits``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

THREADS = (1, 2, 4)

# Prints one JSON object: workload name -> sha256 of the result bytes.
SCRIPT = r"""
import hashlib, json
import numpy as np
from diffmem_theory.core import denoisers, training
from diffmem_theory.voronoi import dynamics as voronoi_dynamics
from diffmem_theory.core.distributions import IsotropicGaussianMixture, sphere_means
from diffmem_theory.core.schedules import VE, VPTrig

def digest(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()

out = {}
rng = np.random.default_rng(0)
gmm = IsotropicGaussianMixture(sphere_means(12, 50, rng), 1.0)
X, _ = gmm.sample(200, rng)
cfg = training.TrainConfig(n_epochs=200, n_dup=10, seed=0, peak_lr=1e-2, adam_b2=0.99)
res = training.train_gmm_denoiser(X, 20, cfg, progress=False)
out["train_gmm_denoiser"] = digest(res.model.means, np.float64(res.model.var), res.losses)

xt, x0, t = training._epoch_batch(X, VPTrig().time_grid(), VPTrig(), 15, 1, 0)
model = training.GMMDenoiser(res.model.means, 0.3)
loss, g_mu, g_var = training.gmm_loss_and_grad(model, xt, x0, t, VPTrig())
out["gmm_loss_and_grad"] = digest(np.float64(loss), g_mu, np.float64(g_var))

X0 = np.random.default_rng(1).standard_normal((200, 5))
x_T = 4.0 * np.random.default_rng(2).standard_normal((64, 5))
for time in ("s", "t"):
    sol = voronoi_dynamics.reverse_ode(x_T, X0, VE.exp(), 1e-4, time=time, rtol=1e-6, atol=1e-6)
    out[f"reverse_ode_{time}"] = digest(sol.x, sol.status, sol.nfev)

Xd = np.random.default_rng(3).standard_normal((2000, 20))
q = 0.8 * Xd[:512] + 0.6 * np.random.default_rng(4).standard_normal((512, 20))
out["memorizing_denoiser"] = digest(denoisers.memorizing_denoiser(q, 0.6, Xd, VPTrig()))
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def digests() -> dict[int, dict[str, str]]:
    """The digests of every workload for each thread count (one subprocess per count)."""
    found = {}
    for n in THREADS:
        env = {**os.environ, "NUMBA_NUM_THREADS": str(n)}
        run = subprocess.run(
            [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=False
        )
        assert run.returncode == 0, run.stderr
        found[n] = json.loads(run.stdout.strip().splitlines()[-1])
    return found


def _same_for_all_thread_counts(digests: dict[int, dict[str, str]], name: str) -> None:
    by_count = {n: digests[n][name] for n in THREADS}
    assert len(set(by_count.values())) == 1, f"{name} depends on NUMBA_NUM_THREADS: {by_count}"


@pytest.mark.parametrize("name", ["train_gmm_denoiser", "gmm_loss_and_grad"])
def test_training_is_bit_identical_for_1_2_4_threads(digests, name: str) -> None:
    _same_for_all_thread_counts(digests, name)


@pytest.mark.parametrize("name", ["reverse_ode_s", "reverse_ode_t"])
def test_reverse_ode_is_bit_identical_for_1_2_4_threads(digests, name: str) -> None:
    _same_for_all_thread_counts(digests, name)


def test_memorizing_denoiser_is_bit_identical_for_1_2_4_threads(digests) -> None:
    """End to end through the softmax kernel (``kernels._numba``, its fixed partition)."""
    _same_for_all_thread_counts(digests, "memorizing_denoiser")


# The reverse ODE of the script above, at 2 threads, once compiled in the process and once loaded
# from the Numba cache that the first process wrote.
_COMPILED_OR_CACHED = r"""
import hashlib
import numpy as np
from diffmem_theory.voronoi import dynamics as voronoi_dynamics
from diffmem_theory.core.schedules import VE
X0 = np.random.default_rng(1).standard_normal((200, 5))
x_T = 4.0 * np.random.default_rng(2).standard_normal((64, 5))
sol = voronoi_dynamics.reverse_ode(x_T, X0, VE.exp(), 1e-4, time="s", rtol=1e-6, atol=1e-6)
print(hashlib.sha256(sol.x.tobytes()).hexdigest())
"""


@pytest.mark.xfail(
    strict=False,  # whether the two codes differ may depend on the CPU: an XPASS is news, not red
    raises=AssertionError,
    reason="known defect: code Numba compiles in the process and the same code loaded from its "
    "on-disk cache give results that differ in the last bits (6.7e-16 on an AVX-512 x86-64; "
    "every workload of this module); the thread count does not matter once the cache is written",
)
def test_compiled_and_cached_code_give_the_same_bits(tmp_path) -> None:
    """The first process compiles (into an empty cache directory), the second loads the cache."""
    env = {**os.environ, "NUMBA_NUM_THREADS": "2", "NUMBA_CACHE_DIR": str(tmp_path)}
    digests = []
    for _ in range(2):
        run = subprocess.run(
            [sys.executable, "-c", _COMPILED_OR_CACHED], env=env, capture_output=True, text=True
        )
        if run.returncode != 0:  # not the expected failure: pytest.fail escapes the xfail
            pytest.fail(run.stderr)
        digests.append(run.stdout.strip())
    if not any(tmp_path.rglob("*.nbi")):
        pytest.fail("the first process wrote no cache")
    assert digests[0] == digests[1]
