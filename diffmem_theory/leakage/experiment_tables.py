r"""The experimental results of Shah et al. (paper 004): Tables 1-5, transcribed as printed.

Shah, Kalavasis, Klivans, Daras, "Does Generation Require Memorization? Creative Diffusion Models
using Ambient Diffusion" (ICML 2025), Sec. 5 and App. E. These are GPU results (EDM and Stable
Diffusion 2 training, FID, DINOv2 similarities): the package ships the printed numbers and checks
their internal consistency; it does not reproduce them. Percentages are "% of 50,000 generated
samples whose top-1 similarity to the training set exceeds the threshold"; the per-setting t_n of
"Ours" is not reported. The sigma of Tables 3-4 is in unspecified units (a VP level is at most 1,
and Fig. 2 quotes [0.4, 4]; most likely EDM VE scales).

* :data:`TABLE1` -- FID and memorization, DDPM vs Algorithm 1 ("Ours"), CIFAR-10 / FFHQ /
  ImageNet at 300, 1000, 3000 training images; :data:`THRESHOLDS` per data set.
* :data:`TABLE2` -- DDPM, Masking, Noise, Ours. Its caption names no data set; its DDPM and Ours
  columns equal Table 1's FFHQ rows, so it is read as FFHQ (:func:`table2_table1_mismatches`).
* :data:`TABLE3` -- FD_DINOv2, :data:`TABLE4` -- mean / median top-1 similarity (FFHQ, 300).
* :data:`TABLE5` -- Stable Diffusion 2 on LAION-10k: Sim, 95th percentile, CLIP, FID.

Consistency functions (each returns the list of violations, empty when the data is
consistent): :func:`threshold_violations` (the fraction above a threshold cannot rise with the
threshold), :func:`table2_table1_mismatches`, :func:`table5_percentile_violations`.

>>> TABLE1["FFHQ"][300]["Ours"].fid
15.05
>>> threshold_violations(), table2_table1_mismatches(), table5_percentile_violations()
([], [], [])
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any

from diffmem_theory._validation import check_scalar

__all__ = [
    "TABLE1",
    "TABLE2",
    "TABLE3",
    "TABLE4",
    "TABLE5",
    "THRESHOLDS",
    "MemorizationRow",
    "SD2Row",
    "table2_table1_mismatches",
    "table5_percentile_violations",
    "threshold_violations",
]


@dataclass(frozen=True)
class MemorizationRow:
    """One column of Tables 1-2: FID and the % of samples above each similarity threshold.

    ``fid`` is a finite real >= 0 and ``above`` three percentages in [0, 100] (``ValueError``
    otherwise).

    >>> MemorizationRow(15.05, (49.68, 40.01, 29.86)).above
    (49.68, 40.01, 29.86)
    """

    fid: float
    above: tuple[float, float, float]

    def __post_init__(self) -> None:
        object.__setattr__(self, "fid", check_scalar(self.fid, "fid", low=0.0))
        if not isinstance(self.above, (tuple, list)) or len(self.above) != 3:
            raise ValueError(f"above must hold three percentages, got {self.above!r}")
        above = tuple(check_scalar(v, "above", low=0.0, high=100.0) for v in self.above)
        object.__setattr__(self, "above", above)


@dataclass(frozen=True)
class SD2Row:
    """One row of Table 5: mean top-1 similarity, its 95th percentile, CLIP score, FID.

    Every field is a finite real number (``ValueError`` otherwise).

    >>> SD2Row(0.378, 0.649, 0.306, 18.18).fid
    18.18
    """

    sim: float
    p95: float
    clip: float
    fid: float

    def __post_init__(self) -> None:
        for field in fields(self):
            value = check_scalar(getattr(self, field.name), field.name)
            object.__setattr__(self, field.name, value)


def _frozen(d: dict[Any, Any]) -> MappingProxyType:
    return MappingProxyType(d)


def _row(fid: float, *above: float) -> MemorizationRow:
    return MemorizationRow(fid, tuple(above))  # type: ignore[arg-type]


#: Similarity thresholds ("potentially memorized / partially memorized / exact copy"), Sec. 5.1.
THRESHOLDS = _frozen(
    {"CIFAR-10": (0.9, 0.925, 0.95), "FFHQ": (0.85, 0.875, 0.9), "ImageNet": (0.9, 0.925, 0.95)}
)

#: Table 1: ``TABLE1[dataset][n][method]`` with method "DDPM" or "Ours" (no ImageNet at 300).
TABLE1 = _frozen(
    {
        "CIFAR-10": _frozen(
            {
                300: _frozen(
                    {
                        "DDPM": _row(25.1, 78.96, 67.2, 56.56),
                        "Ours": _row(23.91, 44.84, 20.22, 9.64),
                    }
                ),
                1000: _frozen(
                    {
                        "DDPM": _row(10.46, 75.86, 57.98, 43.44),
                        "Ours": _row(10.36, 69.08, 47.26, 26.34),
                    }
                ),
                3000: _frozen(
                    {
                        "DDPM": _row(14.73, 53.40, 11.92, 0.08),
                        "Ours": _row(14.26, 52.24, 11.36, 0.06),
                    }
                ),
            }
        ),
        "FFHQ": _frozen(
            {
                300: _frozen(
                    {
                        "DDPM": _row(16.21, 63.38, 55.48, 47.86),
                        "Ours": _row(15.05, 49.68, 40.01, 29.86),
                    }
                ),
                1000: _frozen(
                    {
                        "DDPM": _row(12.26, 55.36, 43.82, 33.92),
                        "Ours": _row(11.3, 32.08, 17.48, 7.52),
                    }
                ),
                3000: _frozen(
                    {"DDPM": _row(6.42, 21.58, 4.98, 0.46), "Ours": _row(6.46, 20.08, 4.53, 0.42)}
                ),
            }
        ),
        "ImageNet": _frozen(
            {
                1000: _frozen(
                    {
                        "DDPM": _row(50.2, 54.72, 41.66, 25.86),
                        "Ours": _row(47.19, 26.68, 15.56, 5.54),
                    }
                ),
                3000: _frozen(
                    {
                        "DDPM": _row(40.66, 32.86, 12.32, 6.08),
                        "Ours": _row(39.87, 28.40, 9.44, 4.02),
                    }
                ),
            }
        ),
    }
)

#: Table 2 (FFHQ, thresholds 0.85 / 0.875 / 0.9): ``TABLE2[n][method]``.
TABLE2 = _frozen(
    {
        300: _frozen(
            {
                "DDPM": _row(16.21, 63.38, 55.48, 47.86),
                "Masking": _row(23.40, 53.73, 41.37, 30.34),
                "Noise": _row(27.92, 29.12, 18.73, 10.60),
                "Ours": _row(15.05, 49.68, 40.01, 29.86),
            }
        ),
        1000: _frozen(
            {
                "DDPM": _row(12.26, 55.36, 43.82, 33.92),
                "Masking": _row(15.73, 38.74, 22.94, 10.08),
                "Noise": _row(25.57, 14.83, 9.37, 6.49),
                "Ours": _row(11.3, 32.08, 17.48, 7.52),
            }
        ),
        3000: _frozen(
            {
                "DDPM": _row(6.42, 21.58, 4.98, 0.46),
                "Masking": _row(7.44, 19.74, 4.56, 0.43),
                "Noise": _row(16.28, 12.08, 3.32, 0.36),
                "Ours": _row(6.46, 20.08, 4.53, 0.42),
            }
        ),
    }
)

#: Table 3: FD_DINOv2 on FFHQ (300 images); keys "Baseline" or the sigma of "Ours".
TABLE3 = _frozen(
    {"Baseline": 353.19, 0.1: 347.21, 0.25: 344.60, 0.3: 358.23, 0.4: 371.81, 0.5: 382.03}
)

#: Table 4: (mean, median) top-1 similarity over 50,000 samples (FFHQ, 300); "DDPM" or sigma.
TABLE4 = _frozen(
    {
        "DDPM": (0.8826, 0.8931),
        0.1: (0.8854, 0.8748),
        0.25: (0.8518, 0.8491),
        0.3: (0.8473, 0.8475),
        0.4: (0.8287, 0.8292),
        0.5: (0.8060, 0.8069),
    }
)

#: Table 5: Stable Diffusion 2 fine-tuned on LAION-10k.
TABLE5 = _frozen(
    {
        "Baseline": SD2Row(0.378, 0.649, 0.306, 18.18),
        "Ours": SD2Row(0.373, 0.636, 0.305, 18.34),
        "S23": SD2Row(0.319, 0.573, 0.302, 20.55),
        "S23 + ours": SD2Row(0.308, 0.547, 0.306, 21.30),
        "W24": SD2Row(0.208, 0.300, 0.293, 21.44),
        "W24 + ours": SD2Row(0.192, 0.267, 0.293, 20.74),
    }
)


def _memorization_columns() -> list[tuple[str, MemorizationRow]]:
    cols = [
        (f"Table 1 {ds} n={n} {m}", row)
        for ds, by_n in TABLE1.items()
        for n, by_m in by_n.items()
        for m, row in by_m.items()
    ]
    cols += [(f"Table 2 n={n} {m}", row) for n, by_m in TABLE2.items() for m, row in by_m.items()]
    return cols


def threshold_violations() -> list[str]:
    """Columns of Tables 1-2 where the % above a threshold rises with the threshold.

    ``P(S > c)`` is non-increasing in c, so each column must be non-increasing.

    >>> threshold_violations()
    []
    """
    return [
        name
        for name, row in _memorization_columns()
        if any(b > a for a, b in zip(row.above, row.above[1:], strict=False))
    ]


def table2_table1_mismatches() -> list[str]:
    """Entries where Table 2's DDPM / Ours columns differ from Table 1's FFHQ rows.

    Their equality is why Table 2, whose caption names no data set, is read as FFHQ.

    >>> table2_table1_mismatches()
    []
    """
    return [
        f"n={n} {m}"
        for n, by_m in TABLE1["FFHQ"].items()
        for m, row in by_m.items()
        if TABLE2[n][m] != row
    ]


def table5_percentile_violations() -> list[str]:
    """Rows of Table 5 whose 95th percentile of the similarity is below its mean.

    A plausibility check, not a theorem: a right-skewed distribution could violate it.

    >>> table5_percentile_violations()
    []
    """
    return [name for name, row in TABLE5.items() if row.p95 < row.sim]
