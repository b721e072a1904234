"""What every plot needs: names drawn as they are, log ticks that read as numbers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.plotting import literal_text, log_scale


def test_log_ticks_read_as_plain_numbers_while_names_stay_literal() -> None:
    with literal_text():
        fig, ax = plt.subplots()
        ax.barh(["mm[$n$]", "conv"], [0.002, 3.0])
        log_scale(ax, "x")
        fig.canvas.draw()
        ticks = [t.get_text() for t in ax.get_xticklabels()]
        names = [t.get_text() for t in ax.get_yticklabels()]
        plt.close(fig)
    assert ticks == ["0.001", "0.01", "0.1", "1", "10"]
    assert names == ["mm[$n$]", "conv"]
