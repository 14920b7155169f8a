"""The figures the board's page and a run's page share, drawn with matplotlib as inline SVG:
grouped bars with each bar's 95% interval as an error bar (PGR, and weak / untuned strong /
format control / W2S / ceiling accuracy), and training curves.

The SVG is deterministic for one matplotlib version (a fixed hash salt, no date, text kept as
text), so a board rebuilt from the same entries is byte-identical; the ``plots`` extra pins
the version. Each figure's error bars are one SVG group, ``<gid>-errorbars``, a path per bar
with an interval, so a test can find and count them.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence

from harness.errors import HarnessError
from harness.stats import Estimate

PALETTE = ["#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951", "#ff8ab7", "#a463f2",
           "#97bbf5", "#9c6b4e", "#9498a0"]


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise HarnessError("drawing plots needs matplotlib: pip install 'w2s-harness[plots]'") \
            from None
    matplotlib.use("Agg")
    matplotlib.rcParams.update({"svg.hashsalt": "w2s-harness", "svg.fonttype": "none",
                                "font.family": "sans-serif", "font.size": 9})
    import matplotlib.pyplot as plt

    return plt


def _svg(plt, fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)  # its RDF block
    return text[text.index("<svg"):]  # inline: no XML prolog or doctype


def _figure(title: str, svg: str) -> str:
    return f"<figure><figcaption>{html.escape(title)}</figcaption>{svg}</figure>"


def bars(title: str, groups: Sequence[str],
         series: Sequence[tuple[str, Sequence[Estimate | None]]],
         lo: float, hi: float, gid: str) -> str:
    """A grouped bar chart: one group per label, one bar per series (its mean, clipped to
    ``[lo, hi]``), each with its interval as an error bar where it has one."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 2.8))
    width = 0.8 / max(1, len(series))
    xs, lows, highs = [], [], []
    for k, (label, values) in enumerate(series):
        ok = [(g, v) for g, v in enumerate(values) if v is not None]
        x = [g - 0.4 + width * (k + 0.5) for g, _ in ok]
        mean = [max(lo, min(hi, v.mean)) for _, v in ok]
        ax.bar(x, mean, width * 0.9, color=PALETTE[k % len(PALETTE)], label=label)
        for xi, (_, v) in zip(x, ok):
            if v.low is not None and v.high is not None:
                xs.append(xi)
                lows.append(max(lo, min(hi, v.low)))
                highs.append(max(lo, min(hi, v.high)))
    if xs:
        ax.vlines(xs, lows, highs, colors="#222", linewidth=1, gid=f"{gid}-errorbars")
    ax.axhline(0, color="#888", linewidth=0.8)
    ax.set_ylim(lo, hi)
    ax.set_xticks(range(len(groups)), list(groups))
    ax.grid(axis="y", color="#eee")
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return _figure(title, _svg(plt, fig))


def curves(title: str, lines: dict[str, list[tuple[int, float]]], gid: str) -> str:
    """Training loss against optimizer step, one line per training stage."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 2.8))
    for k, (label, points) in enumerate(lines.items()):
        ax.plot([s for s, _ in points], [v for _, v in points], marker=".",
                color=PALETTE[k % len(PALETTE)], label=label, gid=f"{gid}-{k}")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss")
    ax.grid(color="#eee")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return _figure(title, _svg(plt, fig))
