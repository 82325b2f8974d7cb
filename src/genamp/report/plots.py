"""Plots of a study, in the style of the GANplification paper (its Figs. 1 and 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402
import numpy as np  # noqa: E402

from genamp.densities import Density  # noqa: E402
from genamp.study.config import StudyConfig  # noqa: E402
from genamp.study.store import read_preview  # noqa: E402
from genamp.study.tasks import Task, training_set  # noqa: E402
from genamp.volumes import QuantileGrid  # noqa: E402

COLOURS = {
    "sample": "tab:blue",
    "fit": "tab:green",
    "resample": "tab:purple",
    "gan": "tab:orange",
    "gan-paper": "tab:brown",
    "cfm": "tab:red",
    "flow": "tab:cyan",
    "bflow": "tab:olive",
    "bcfm": "tab:pink",
}
LABELS = {
    "sample": "training sample",
    "fit": "fit",
    "resample": "resampled training set",
    "gan": "GAN",
    "gan-paper": "GAN (paper)",
    "cfm": "flow matching",
    "flow": "spline flow",
    "bflow": "Bayesian flow",
    "bcfm": "Bayesian flow matching",
}
TITLES = {"camel": "camel back", "camels": "camel backs", "ring": "Gaussian ring", "shell": "Gaussian shell"}


def _label(rec: dict[str, Any]) -> str:
    name = LABELS.get(rec["model"], rec["model"])
    if rec.get("G") is None:
        return f"{name}: failed"
    if not rec.get("resolved", True):
        return f"{name}: G ≥ {rec['n_equiv_lower'] / rec['n_train']:.3g}"
    err = f" ± {rec['G_std']:.2g}" if rec.get("G_std") is not None else ""
    return f"{name}: G = {rec['G']:.3g}{err}  (≈ {rec['n_equiv']:.0f} events)"


def plot_mse(records: list[dict[str, Any]], path: Path) -> Path:
    """Quantile MSE against the number of events for one resolution (the seed's Fig. 2)."""
    rec0 = records[0]
    c, n_train, q = rec0["c"], rec0["n_train"], rec0["quantiles"]
    sampled = [r for r in records if r.get("curve") and r["curve"]["n_gen"][-1] is not None]
    n_max = max([r["curve"]["n_gen"][-1] for r in sampled], default=100 * n_train)
    n = np.geomspace(max(n_train / 3, 2), n_max * 2, 200)
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    ax.plot(n, c / n, color="black", lw=1.2, label="true sample of n events: c/n")
    for mult in (1, 2, 5, 10, 20, 50, 100):
        m = mult * n_train
        if m > n[-1]:
            break
        ax.axhline(c / m, color="grey", lw=0.6, ls=":")
        ax.annotate(f"{m}", (n[-1], c / m), fontsize=7, color="grey", va="bottom", ha="right")
    for rec in records:
        if rec.get("G") is None or not rec.get("curve"):
            continue
        colour = COLOURS.get(rec["model"])
        curve = rec["curve"]
        mean = np.asarray(curve["mse_mean"], dtype=float)
        std = np.nan_to_num(np.asarray([s if s is not None else np.nan for s in curve["mse_std"]], dtype=float))
        if curve["n_gen"][-1] is None:  # exact occupancies: a horizontal band
            line = ax.axhline(mean[0], color=colour, lw=1.5, label=_label(rec))
            ax.axhspan(max(mean[0] - std[0], 1e-30), mean[0] + std[0], color=line.get_color(), alpha=0.15)
        else:
            ng = np.asarray(curve["n_gen"], dtype=float)
            (line,) = ax.plot(ng, mean, color=colour, marker="o", ms=3, lw=1.5, label=_label(rec))
            ax.fill_between(ng, np.maximum(mean - std, mean * 1e-3), mean + std, color=line.get_color(), alpha=0.15)
            if rec.get("plateau") and rec["plateau"] > 0:
                ax.axhline(rec["plateau"], color=line.get_color(), lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of events (true or generated)")
    ax.set_ylabel("quantile MSE")
    ax.set_xlim(n[0], n[-1])
    ax.set_title(f"{TITLES.get(rec0['density'], rec0['density'])}: {q} quantiles per axis, n_train = {n_train}")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_amplification(records: list[dict[str, Any]], path: Path) -> Path:
    """Amplification factor against resolution, one line per model."""
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    models = list(dict.fromkeys(r["model"] for r in records))
    for model in models:
        recs = sorted((r for r in records if r["model"] == model and r.get("G") is not None), key=lambda r: r["quantiles"])
        if not recs:
            continue
        qs = [r["quantiles"] for r in recs]
        g = [r["G"] if r.get("resolved", True) else r["n_equiv_lower"] / r["n_train"] for r in recs]
        err = [r["G_std"] or 0.0 for r in recs]
        ax.errorbar(qs, g, yerr=err, marker="o", capsize=3, color=COLOURS.get(model), label=LABELS.get(model, model))
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    qs_all = sorted({r["quantiles"] for r in records})
    ax.set_xticks(qs_all, [str(q) for q in qs_all])
    ax.minorticks_off()
    ax.set_xlabel("quantiles per axis")
    ax.set_ylabel("amplification G = n_equiv / n_train")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_density(
    density: Density,
    x_train: np.ndarray,
    fitted: Density | None,
    quantiles: int,
    path: Path,
    generated: dict[str, np.ndarray] | None = None,
) -> Path:
    """Truth, training histogram, fit, large generated samples and quantile edges along the
    first factorising coordinate (the seed's Fig. 1); for two dimensions also the plane."""
    generated = generated or {}
    u = density.to_factorised(x_train)[:, 0]
    edges = density.quantile_edges(quantiles, 0)
    lo, hi = np.quantile(u, [0.0, 1.0])
    span = hi - lo
    grid = np.linspace(lo - 0.3 * span, hi + 0.3 * span, 801)
    if density.marginal_support(0)[0] == 0.0:
        grid = grid[grid >= 0.0]
    mid = 0.5 * (grid[1:] + grid[:-1])

    def pdf(d: Density) -> np.ndarray:
        return np.diff(d.marginal_cdf(0, grid)) / np.diff(grid)

    ncols = 2 if density.dim == 2 else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6.0 * ncols, 4.4), squeeze=False)
    ax = axes[0, 0]
    counts, bins = np.histogram(u, bins=30, range=(grid[0], grid[-1]))
    mplhep.histplot(counts / (u.size * np.diff(bins)), bins, ax=ax, color="tab:blue", label=f"training sample ({u.size})")
    ax.plot(mid, pdf(density), color="black", lw=1.5, label="truth")
    if fitted is not None:
        ax.plot(mid, pdf(fitted), color="tab:green", lw=1.5, ls="--", label="fit")
    for model, events in generated.items():
        g = density.to_factorised(events)[:, 0]
        counts_g, _ = np.histogram(g, bins=bins)
        mplhep.histplot(
            counts_g / (g.size * np.diff(bins)), bins, ax=ax, color=COLOURS.get(model, None),
            label=f"{LABELS.get(model, model)} ({g.size} generated)",
        )
    for e in edges[1:-1]:
        ax.axvline(e, color="grey", lw=0.5, ls=":")
    ax.set_xlabel(density.axis_names[0])
    ax.set_ylabel("density")
    ax.set_title(f"{TITLES.get(density.name, density.name)}; dotted: {quantiles} quantiles")
    ax.legend(fontsize=8)
    if ncols == 2:
        ax2 = axes[0, 1]
        t = np.linspace(-1.0, 1.0, 301) * (np.abs(x_train).max() * 1.3)
        xx, yy = np.meshgrid(t, t)
        dens = np.exp(density.log_prob(np.stack([xx.ravel(), yy.ravel()], axis=1))).reshape(xx.shape)
        ax2.pcolormesh(xx, yy, dens, cmap="Greys", shading="auto")
        for model, events in generated.items():
            few = events[:2000]
            ax2.scatter(few[:, 0], few[:, 1], s=1, alpha=0.4, color=COLOURS.get(model, None), label=LABELS.get(model, model))
        ax2.scatter(x_train[:, 0], x_train[:, 1], s=6, color="tab:blue", label="training sample")
        ax2.set_aspect("equal")
        ax2.set_xlabel("x1")
        ax2.set_ylabel("x2")
        ax2.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def study_plots(
    config: StudyConfig,
    root: Path,
    records: list[dict[str, Any]],
    tasks: list[Task],
    metas: dict[Task, dict[str, Any]],
) -> list[Path]:
    """All plots of a study into ``root``: one MSE plot per resolution, G vs resolution, the truth."""
    paths = []
    for q in config.quantiles:
        recs = [r for r in records if r["quantiles"] == q and r.get("G") is not None]
        if recs:
            paths.append(plot_mse(recs, root / f"mse_Q{q}.png"))
    if any(r.get("G") is not None for r in records):
        paths.append(plot_amplification(records, root / "amplification.png"))
    density = config.make_density()
    first = min(tasks, key=lambda t: t.repetition)
    fitted = None
    for t in tasks:
        if t.model == "fit" and t.repetition == first.repetition and metas[t]["status"] == "ok":
            fitted = density.with_params(**metas[t]["info"]["values"])
    x_train = training_set(first.spec, first.repetition)
    generated = {}
    for t in tasks:
        if t.repetition == first.repetition and metas[t]["status"] == "ok":
            events = read_preview(t.path(root))
            if events is not None:
                generated[t.model] = events
    paths.append(plot_density(density, x_train, fitted, min(config.quantiles), root / "density.png", generated))
    return paths
