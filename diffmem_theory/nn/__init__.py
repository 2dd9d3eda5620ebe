"""Neural score networks on JAX, Equinox and Optax (the optional extra ``[nn]``).

* :mod:`~diffmem_theory.nn.models`: ReLU MLP score/denoiser networks with Fourier time
  features (Baptista et al., paper 002, Sec. 5.3; paper 003, Sec. 6), in x0, eps or score
  units;
* :mod:`~diffmem_theory.nn.losses`: denoising score matching with paper 000's weightings
  (eq. (6)), paper 003's (3.1), paper 002's J_0^N, I_0^N and Tikhonov objectives, weight decay;
* :mod:`~diffmem_theory.nn.training`: Adam with EMA in ``lax.scan`` chunks, seeded and
  resumable;
* :func:`as_denoiser`: a trained network as a ``core`` denoiser (samplers, losses, metrics);
* :func:`save`, :func:`load`: a network in one file with its architecture.

>>> import jax
>>> import numpy as np
>>> from diffmem_theory.core.schedules import VPTrig
>>> from diffmem_theory import nn
>>> net = nn.mlp(2, 8, 2, key=jax.random.key(0))
>>> res = nn.train(net, np.eye(2), VPTrig(), epochs=20, progress=False)
>>> nn.as_denoiser(res.ema, VPTrig())(np.zeros((1, 2)), 0.5).shape
(1, 2)
"""

from diffmem_theory.nn.denoisers import as_denoiser
from diffmem_theory.nn.losses import (
    Batch,
    dsm_loss,
    dsm_per_example,
    i_0_n,
    j_0_n,
    make_batch,
    sample_times,
    time_range,
    weight_decay,
)
from diffmem_theory.nn.models import (
    MLP,
    FourierFeatures,
    mlp,
    numpy_callable,
    paper_002_network,
    paper_002_parameter_count,
    parameter_count,
)
from diffmem_theory.nn.serialization import load, save
from diffmem_theory.nn.training import TrainResult, load_checkpoint, train

__all__ = [
    "MLP",
    "Batch",
    "FourierFeatures",
    "TrainResult",
    "as_denoiser",
    "dsm_loss",
    "dsm_per_example",
    "i_0_n",
    "j_0_n",
    "load",
    "load_checkpoint",
    "make_batch",
    "mlp",
    "numpy_callable",
    "paper_002_network",
    "paper_002_parameter_count",
    "parameter_count",
    "sample_times",
    "save",
    "time_range",
    "train",
    "weight_decay",
]
