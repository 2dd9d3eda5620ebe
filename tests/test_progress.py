"""One switch hides every progress bar (`reproduce --no-progress`, `figure --no-progress`)."""

import numpy as np

from diffmem_theory._progress import disable, no_bars
from diffmem_theory.cli import main
from diffmem_theory.core.training import TrainConfig, train_gmm_denoiser


def _train() -> None:
    X = np.random.default_rng(0).standard_normal((6, 2))
    train_gmm_denoiser(X, 2, TrainConfig(n_epochs=3, n_dup=1), progress=True)


def test_no_bars_hides_a_bar_that_a_function_was_asked_to_show(capsys):
    _train()
    assert "0/3" in capsys.readouterr().err  # the bar is drawn (and cleared: leave=False)
    with no_bars():
        _train()
    assert capsys.readouterr().err == ""
    _train()  # the switch is back off after the block
    assert capsys.readouterr().err != ""


def test_no_bars_nests_and_restores():
    with no_bars():
        with no_bars(False):
            assert disable(True) is True
        assert disable(True) is True
    assert disable(True) is False
    assert disable(None) is None


def test_figure_takes_no_progress(tmp_path, capsys):
    assert (
        main(["figure", "paper003.gap_vs_n", "--quick", "--out", str(tmp_path), "--no-progress"])
        == 0
    )
    assert "OK" in capsys.readouterr().out
