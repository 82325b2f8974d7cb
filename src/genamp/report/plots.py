"""Plots of a study, in the style of the GANplification paper (its Figs. 1 and 2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402
import numpy as np  # noqa: E402

from genamp.densities import Density  # noqa: E402
from genamp.study.config import StudyConfig  # noqa: E402

COLOURS = {
    "sample": "tab:blue",
    "fit": "tab:green",
    "bfit": "darkgreen",
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
    "bfit": "Laplace fit",
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


def _about(rec: dict[str, Any]) -> str:
    """What a record measures against: the toy's name, or the observable on the pool."""
    if rec.get("truth") == "pool":
        return f"{rec['observable']} (pool)"
    return TITLES.get(rec["density"], rec["density"])


def plot_mse(records: list[dict[str, Any]], path: Path) -> Path:
    """Quantile MSE against the number of events for one resolution (the seed's Fig. 2)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    _draw_mse(ax, records)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _draw_mse(ax: Any, records: list[dict[str, Any]]) -> None:
    rec0 = records[0]
    c, n_train, q = rec0["c"], rec0["n_train"], rec0["quantiles"]
    sampled = [r for r in records if r.get("curve") and r["curve"]["n_gen"][-1] is not None]
    n_max = max([r["curve"]["n_gen"][-1] for r in sampled], default=100 * n_train)
    n = np.geomspace(max(n_train / 3, 2), n_max * 2, 200)
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
    ax.set_title(f"{_about(rec0)}: {q} quantiles per axis, n_train = {n_train}", fontsize=10)
    ax.legend(fontsize=8, loc="lower left")


def _resolution_axes(ax: Any, records: list[dict[str, Any]], ylabel: str) -> None:
    """Log-log axes of G against the quantiles per axis, with G = 1 marked."""
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    qs_all = sorted({r["quantiles"] for r in records})
    ax.set_xticks(qs_all, [str(q) for q in qs_all])
    ax.minorticks_off()
    ax.set_xlabel("quantiles per axis")
    ax.set_ylabel(ylabel)


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
    _resolution_axes(ax, records, "amplification G = n_equiv / n_train")
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


@dataclass
class StudyPictures:
    """What the pictures of a study show beyond its records: the first repetition's training
    set, its fit, a preview of each generator's events, the differential method's events mapped
    to their local n_equiv. The runner hands them over; the plots never read task files."""

    #: the toy truth (``None`` on a pool)
    density: Density | None
    x_train: np.ndarray
    fitted: Density | None = None
    generated: dict[str, np.ndarray] = field(default_factory=dict)
    mapped: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    #: the observables the mapped events are given in (a pool: two of the classifier's inputs,
    #: m_W and m_t on top pairs); ``None``: the events' own coordinates
    mapped_axes: tuple[str, ...] | None = None


def study_plots(config: StudyConfig, root: Path, records: list[dict[str, Any]], pictures: StudyPictures) -> list[Path]:
    """All plots of a study into ``root``: one MSE plot per resolution, G vs resolution, the
    forecasts, the differential profiles, the truth with what was trained on it."""
    if config.pool is not None:
        return observable_plots(records, root, pictures, features=(config.pool_spec or {}).get("features"))
    assert pictures.density is not None
    paths = []
    forecasts = [r for r in records if r["method"] == "averaging"]
    differential = [r for r in records if r["method"] == "differential"]
    records = [r for r in records if r["method"] == "truth"]
    for rec in differential:
        paths.append(plot_differential(rec, root / f"differential_{rec['model']}.png", pictures.mapped.get(rec["model"])))
    for q in config.quantiles:
        recs = [r for r in records if r["quantiles"] == q and r.get("G") is not None]
        if recs:
            paths.append(plot_mse(recs, root / f"mse_Q{q}.png"))
    if any(r.get("G") is not None for r in records):
        paths.append(plot_amplification(records, root / "amplification.png"))
    if any(r.get("G_inf") is not None for r in forecasts):
        paths.append(plot_forecast_vs_resolution(forecasts, root / "forecast.png"))
        paths.append(plot_calibration(forecasts, root / "calibration.png"))
        rows = read_volume_table(root / forecasts[0]["table"])
        for model in dict.fromkeys(r["model"] for r in forecasts):
            mine = [r for r in rows if r["model"] == model]
            if mine and pictures.density.dim <= 2:
                paths.append(plot_volume_map(pictures.density, mine, root / f"volumes_{model}.png"))
    paths.append(plot_density(pictures.density, pictures.x_train, pictures.fitted, min(config.quantiles),
                              root / "density.png", pictures.generated))  # fmt: skip
    return paths


# ---- observables on a pool ---------------------------------------------------------------------
def _file_name(observable: str) -> str:
    """An observable's name as a file name (``a × b`` → ``a-b``)."""
    safe = "".join(c if c.isalnum() or c in "._-" else "-" for c in observable.replace(" × ", "-"))
    return safe.strip("-") or "observable"


#: observables whose MSE plots a pool study writes beside results.json (more go into mse/)
MSE_BESIDE = 12


def observable_plots(
    records: list[dict[str, Any]], root: Path, pictures: StudyPictures | None = None, prefix: str = "",
    features: list[str] | None = None,
) -> list[Path]:  # fmt: skip
    """Plots of records per observable (a pool study, ``genamp estimate --pool``): for each
    observable its MSE curves at every resolution side by side, G of every observable in one
    picture, and the training set's and generated events' distributions of each column."""
    paths = []
    truth = [r for r in records if r["method"] == "truth" and r.get("G") is not None]
    names = list(dict.fromkeys(r["observable"] for r in truth))
    # a few beside results.json; the many of a top-pair study in a folder of their own
    folder = root if len(names) <= MSE_BESIDE else root / "mse"
    folder.mkdir(exist_ok=True)
    for observable in names:
        mine = [r for r in truth if r["observable"] == observable]
        qs = sorted({r["quantiles"] for r in mine}, key=lambda q: q if isinstance(q, int) else q[0])
        fig, axes = plt.subplots(1, len(qs), figsize=(5.2 * len(qs), 4.2), squeeze=False)
        for ax, q in zip(axes[0], qs, strict=True):
            _draw_mse(ax, [r for r in mine if r["quantiles"] == q])
        fig.tight_layout()
        path = folder / f"{prefix}mse_{_file_name(observable)}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    if truth:
        paths.append(plot_amplification_per_observable(records, root / f"{prefix}amplification.png"))
    if pictures is not None:
        paths.append(plot_marginals(pictures, root / f"{prefix}observables.png", features))
    for rec in (r for r in records if r["method"] == "differential"):
        mapped = None if pictures is None else pictures.mapped.get(rec["model"])
        axes = None if pictures is None else pictures.mapped_axes
        paths.append(plot_differential(rec, root / f"{prefix}differential_{rec['model']}.png", mapped, axes))
    forecasts = [r for r in records if r["method"] == "averaging" and r.get("table")]
    if forecasts and (root / forecasts[0]["table"]).is_file():
        paths += _bin_plots(read_volume_table(root / forecasts[0]["table"]), root, pictures, features, prefix)
    return paths


def _bin_plots(rows: list[dict[str, Any]], root: Path, pictures: StudyPictures | None, features: list[str] | None,
               prefix: str) -> list[Path]:  # fmt: skip
    """Per observable and model, :func:`plot_observable` (1D) or :func:`plot_pair_map` (pairs),
    into ``root/bins/``."""
    from genamp.observables import select

    folder = root / "bins"
    folder.mkdir(exist_ok=True)
    paths = []
    for model, observable in dict.fromkeys((r["model"], r["observable"]) for r in rows):
        mine = [r for r in rows if (r["model"], r["observable"]) == (model, observable)]
        name = f"{prefix}{model}_{_file_name(observable)}.png"
        if " × " in observable:
            paths.append(plot_pair_map(mine, folder / name))
            continue
        training = None
        if pictures is not None and pictures.x_train.size:
            (o,) = select(observable, pictures.x_train.shape[1], features)
            training = o(pictures.x_train)
        paths.append(plot_observable(mine, folder / name, training))
    return paths


def assessment_plots(records: list[dict[str, Any]], root: Path) -> list[Path]:
    """The plots of ``genamp assess``: per observable (:func:`observable_plots`); against a toy's
    quantile grids one MSE plot per resolution and G against resolution."""
    if any("observable" in r for r in records):
        return observable_plots(records, root)
    truth = [r for r in records if r["method"] == "truth" and r.get("G") is not None]
    paths = [plot_mse([r for r in truth if r["quantiles"] == q], root / f"mse_Q{q}.png")
             for q in sorted({r["quantiles"] for r in truth})]  # fmt: skip
    if truth:
        paths.append(plot_amplification(truth, root / "amplification.png"))
    return paths


def plot_amplification_per_observable(records: list[dict[str, Any]], path: Path) -> Path:
    """G of every observable, per model and resolution; a lower bound is an upward triangle."""
    truth = [r for r in records if r["method"] == "truth" and r.get("G") is not None]
    forecasts = [r for r in records if r["method"] == "averaging" and r.get("G_inf") is not None]
    observables = list(dict.fromkeys(r["observable"] for r in truth + forecasts))
    series = list(dict.fromkeys((r["model"], r["method"], str(r["quantiles"])) for r in truth + forecasts))
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(observables) + 2.5), 4.4))
    width = 0.8 / max(1, len(series))
    for k, (model, method, q) in enumerate(series):
        xs, ys, errs, bounds = [], [], [], []
        for i, o in enumerate(observables):
            rec = next((r for r in truth + forecasts if (r["model"], r["method"], str(r["quantiles"]), r["observable"])
                        == (model, method, q, o)), None)  # fmt: skip
            if rec is None:
                continue
            if method == "averaging":
                y, err, bound = rec["G_inf"], rec.get("G_inf_std") or 0.0, False
            elif rec.get("resolved", True):
                y, err, bound = rec["G"], rec.get("G_std") or 0.0, False
            else:
                y, err, bound = rec["n_equiv_lower"] / rec["n_train"], 0.0, True
            xs.append(i - 0.4 + width * (k + 0.5))
            ys.append(y)
            errs.append(err)
            bounds.append(bound)
        if not xs:
            continue
        colour = COLOURS.get(model)
        marker = "s" if method == "averaging" else "o"
        label = f"{LABELS.get(model, model)}{' forecast' if method == 'averaging' else ''}, Q = {q}"
        x, y, e, b = (np.asarray(v) for v in (xs, ys, errs, bounds))
        shade = 0.35 + 0.65 * (k % 3) / 2
        ax.errorbar(x[~b], y[~b], yerr=e[~b], ls="none", marker=marker, capsize=2, color=colour, alpha=shade, label=label)
        if b.any():
            ax.plot(x[b], y[b], ls="none", marker="^", color=colour, alpha=shade, label=f"{label}: lower bound")
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.set_xticks(range(len(observables)), observables, rotation=30 if len(observables) > 4 else 0, ha="right")
    ax.set_ylabel("G = n_equiv / n_train")
    rec0 = (truth + forecasts)[0]
    ax.set_title(f"amplification per observable, n_train = {rec0['n_train']}", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _display_edges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Bin edges to draw (n + 1,): the outer bins, open to ±inf, as wide as their neighbours."""
    edges = np.concatenate([lo[:1], hi]).astype(float)
    if edges.size > 3:
        edges[0] = edges[1] - (edges[2] - edges[1]) if not np.isfinite(edges[0]) else edges[0]
        edges[-1] = edges[-2] + (edges[-2] - edges[-3]) if not np.isfinite(edges[-1]) else edges[-1]
    else:
        edges = np.where(np.isfinite(edges), edges, np.nan)
        finite = edges[np.isfinite(edges)]
        width = 1.0 if finite.size < 2 else float(np.ptp(finite))
        edges[0] = edges[0] if np.isfinite(edges[0]) else finite.min() - width
        edges[-1] = edges[-1] if np.isfinite(edges[-1]) else finite.max() + width
    return edges


def plot_observable(rows: list[dict[str, Any]], path: Path, training: np.ndarray | None = None) -> Path:
    """One observable of a pool study at its finest resolution: the pool's distribution, the
    first training set's and the generated mixture's (the mean over repetitions) in its
    quantile bins, their ratio to the pool, and G per bin, the averaging forecast beside the
    pool truth (docs/formulas.md §1.7). Bins whose G is only a bound show it as a triangle.
    ``training`` holds the first training set's values of the observable."""
    q = max(int(r["quantiles"]) for r in rows)
    mine = sorted((r for r in rows if int(r["quantiles"]) == q), key=lambda r: r["cell"])
    edges = _display_edges(np.array([r["lo0"] for r in mine]), np.array([r["hi0"] for r in mine]))
    width = np.diff(edges)
    p = np.array([r["p_true"] for r in mine])
    m = np.array([r["m"] for r in mine])
    fig, (top, mid, low) = plt.subplots(3, 1, figsize=(6.0, 7.2), sharex=True, gridspec_kw={"height_ratios": [3, 1.3, 2]})
    mplhep.histplot(p / width, edges, ax=top, histtype="fill", alpha=0.25, color="grey", label="pool (truth)")
    model = mine[0]["model"]
    mplhep.histplot(m / width, edges, ax=top, color=COLOURS.get(model), lw=1.5, label=f"{LABELS.get(model, model)} mixture")
    if training is not None and training.size:
        counts = np.bincount(np.searchsorted(edges[1:-1], training, side="right"), minlength=q) / training.size
        mplhep.histplot(counts / width, edges, ax=top, color="tab:blue", ls="--", lw=1.2, label=f"training set ({training.size})")
        mid.step(edges, np.append(counts / p, counts[-1] / p[-1]), where="post", color="tab:blue", ls="--", lw=1.0)
    top.set_ylabel("events per unit (normalised)")
    top.legend(fontsize=8)
    top.set_title(f"{mine[0]['observable']}, Q = {q}", fontsize=10)
    mid.step(edges, np.append(m / p, m[-1] / p[-1]), where="post", color=COLOURS.get(model), lw=1.5)
    mid.axhline(1.0, color="grey", lw=0.8)
    mid.set_ylabel("/ pool")
    centres = 0.5 * (edges[:-1] + edges[1:])
    forecast = np.array([r["G_inf"] for r in mine], dtype=float)
    truth = np.array([r.get("truth_G", np.nan) for r in mine], dtype=float)
    truth_std = np.array([r.get("truth_G_std", np.nan) for r in mine], dtype=float)
    lower = np.array([r.get("truth_G_lower", np.nan) for r in mine], dtype=float)
    shift = 0.15 * width
    ok = np.isfinite(forecast) & (forecast > 0)
    low.plot(centres[ok] - shift[ok], forecast[ok], "s", color=COLOURS.get(model), label="forecast G∞")
    ok = np.isfinite(truth) & (truth > 0)
    low.errorbar(centres[ok] + shift[ok], truth[ok], yerr=np.nan_to_num(truth_std[ok]), fmt="o", color="black",
                 capsize=2, label="pool truth G")  # fmt: skip
    bound = ~ok & np.isfinite(lower) & (lower > 0)
    if bound.any():
        low.plot(centres[bound] + shift[bound], lower[bound], "^", color="black", mfc="none", label="pool truth: G ≥")
    low.axhline(1.0, color="grey", lw=0.8, ls=":")
    low.set_yscale("log")
    low.set_ylabel("G per bin")
    low.set_xlabel(mine[0]["observable"])
    low.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_pair_map(rows: list[dict[str, Any]], path: Path) -> Path:
    """G in the plane of a pair of observables (the (m_W, m_t) plane) at its coarsest resolution
    (where most cells get a number): the averaging forecast beside the pool truth, per cell, on
    the cells' quantile indices. Cells without a number are grey."""
    q = min(int(r["quantiles"]) for r in rows)
    mine = [r for r in rows if int(r["quantiles"]) == q]
    maps = {}
    for key in ("G_inf", "truth_G"):
        grid = np.full((q, q), np.nan)
        for r in mine:
            grid[int(r["index1"]), int(r["index0"])] = r.get(key, np.nan)
        maps[key] = np.where(grid > 0, grid, np.nan)
    values = np.concatenate([v[np.isfinite(v)] for v in maps.values()])
    norm = matplotlib.colors.LogNorm(vmin=max(values.min(), 1e-3), vmax=max(values.max(), 1.0)) if values.size else None
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 4.2), sharey=True)
    names = mine[0]["observable"].split(" × ")
    cmap = plt.get_cmap("viridis").with_extremes(bad="lightgrey")
    for ax, (key, title) in zip(axes, (("G_inf", "forecast G∞"), ("truth_G", "pool truth G")), strict=True):
        image = ax.imshow(maps[key], origin="lower", cmap=cmap, norm=norm, aspect="auto")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(f"{names[0]} quantile bin")
    axes[0].set_ylabel(f"{names[-1]} quantile bin")
    fig.colorbar(image, ax=axes, shrink=0.85, label="G per cell (grey: no number)")
    fig.suptitle(f"{LABELS.get(mine[0]['model'], mine[0]['model'])}: {mine[0]['observable']}, Q = {q} × {q}", fontsize=10)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_g_vs_n_train(records: list[dict[str, Any]], path: Path, observables: list[str] | None = None,
                      quantiles: int | None = None) -> Path:  # fmt: skip
    """G against n_train from the records of several studies (one per training size): per
    observable (a toy is one) a panel with the truth-based G (circles, full lines; a bound as a
    triangle) and the averaging forecast (squares, dashed) of every model, at one resolution
    (``quantiles``; the middle one of the records by default)."""
    def about(r: dict[str, Any]) -> str:
        return r.get("observable") or TITLES.get(r.get("density", ""), r.get("density", "")) or "toy"

    wanted = [r for r in records if r["method"] in ("truth", "averaging") and isinstance(r.get("quantiles"), int)]
    qs = sorted({r["quantiles"] for r in wanted})
    q_shown = quantiles if quantiles is not None else qs[len(qs) // 2]
    wanted = [r for r in wanted if r["quantiles"] == q_shown]
    names = observables or list(dict.fromkeys(about(r) for r in wanted))
    ncols = min(3, len(names))
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.4 * ncols, 3.6 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        mine = [r for r in wanted if about(r) == name]
        for (model, q) in dict.fromkeys((r["model"], str(r["quantiles"])) for r in mine):
            for method, marker in (("truth", "o"), ("averaging", "s")):
                rows = sorted((r for r in mine if (r["model"], str(r["quantiles"]), r["method"]) == (model, q, method)),
                              key=lambda r: r["n_train"])  # fmt: skip
                pts = []
                for r in rows:
                    if method == "averaging" and r.get("G_inf") is not None:
                        pts.append((r["n_train"], r["G_inf"], r.get("G_inf_std") or 0.0, False))
                    elif method == "truth" and r.get("G") is not None and r.get("resolved", True):
                        pts.append((r["n_train"], r["G"], r.get("G_std") or 0.0, False))
                    elif method == "truth" and r.get("n_equiv_lower") is not None:
                        pts.append((r["n_train"], r["n_equiv_lower"] / r["n_train"], 0.0, True))
                if not pts:
                    continue
                x, y, e, b = (np.array(v) for v in zip(*pts, strict=True))
                label = f"{LABELS.get(model, model)} {'forecast' if method == 'averaging' else 'truth'}"
                line = ax.errorbar(x[~b], y[~b], yerr=e[~b], marker=marker, capsize=2, color=COLOURS.get(model),
                                   ls="-" if method == "truth" else "--", label=label)  # fmt: skip
                if b.any():
                    ax.plot(x[b], y[b], "^", color=line[0].get_color(), mfc="none")
        ax.axhline(1.0, color="grey", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("n_train")
        ax.set_ylabel("G = n_equiv / n_train")
        ax.set_title(f"{name}, Q = {q_shown}", fontsize=10)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_marginals(pictures: StudyPictures, path: Path, features: list[str] | None = None) -> Path:
    """Each column of the training set beside the generated events (the first repetition)."""
    x = pictures.x_train
    dim = x.shape[1]
    ncols = min(dim, 4)
    nrows = -(-dim // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.0 * nrows), squeeze=False)
    for i in range(dim):
        ax = axes[i // ncols, i % ncols]
        lo, hi = np.quantile(x[:, i], [0.005, 0.995])
        pad = 0.1 * (hi - lo) or 1.0
        bins = np.linspace(lo - pad, hi + pad, 31)
        for model, events in pictures.generated.items():
            ax.hist(events[:, i], bins=bins, density=True, histtype="step", lw=1.2, color=COLOURS.get(model),
                    label=f"{LABELS.get(model, model)} ({len(events)})")  # fmt: skip
        ax.hist(x[:, i], bins=bins, density=True, histtype="stepfilled", alpha=0.3, color="tab:blue",
                label=f"training sample ({len(x)})")  # fmt: skip
        ax.set_xlabel(features[i] if features else f"x{i}")
        if i == 0:
            ax.legend(fontsize=7)
    for j in range(dim, nrows * ncols):
        axes[j // ncols, j % ncols].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ---- averaging amplification -------------------------------------------------------------------
def _spread_text(rec: dict[str, Any]) -> str:
    spread = rec.get("spread") or {}
    if "members" in spread:
        return f"{spread['members']} members, {spread['mode']}"
    return f"{spread.get('draws')} posterior draws"


def plot_forecast_vs_resolution(records: list[dict[str, Any]], path: Path) -> Path:
    """Forecast G∞ and truth-based G of the same mixture against resolution, per model.

    Filled markers: the mixture (what a user generates); open: one member. Error bars are the
    standard errors over repetitions, the band the 16–84% range of one training's forecast.
    """
    fig, ax = plt.subplots(figsize=(6.0, 4.5))
    for model in dict.fromkeys(r["model"] for r in records):
        recs = sorted((r for r in records if r["model"] == model and r.get("G_inf") is not None), key=lambda r: r["quantiles"])
        if not recs:
            continue
        colour = COLOURS.get(model)
        qs = np.array([r["quantiles"] for r in recs], dtype=float)
        name = f"{LABELS.get(model, model)} ({_spread_text(recs[0])})"
        g = [r["G_inf"] for r in recs]
        ax.errorbar(qs, g, yerr=[r["G_inf_std"] or 0.0 for r in recs], marker="o", capsize=3, color=colour,
                    label=f"{name}: forecast")  # fmt: skip
        lo, hi = zip(*[r["G_inf_spread"] for r in recs], strict=True)
        ax.fill_between(qs, lo, [h if h is not None else np.nan for h in hi], color=colour, alpha=0.12)
        truth = [r.get("truth_G") for r in recs]
        if any(t is not None for t in truth):
            ax.errorbar(qs * 1.04, [t if t is not None else np.nan for t in truth],
                        yerr=[r.get("truth_G_std") or 0.0 for r in recs], marker="s", ls="--", capsize=3,
                        color=colour, mfc="white", label=f"{name}: truth (same mixture)")  # fmt: skip
        ax.plot(qs, [r.get("G_inf_member") or np.nan for r in recs], ":", marker="o", ms=3, color=colour, alpha=0.6,
                label="one member: forecast (dotted) / truth (×)")  # fmt: skip
        ax.plot(qs * 1.04, [r.get("truth_G_member") or np.nan for r in recs], "x", color=colour, alpha=0.6)
    _resolution_axes(ax, records, "G∞ = n_equiv / n_train")
    rec0 = records[0]
    ax.set_title(f"{TITLES.get(rec0['density'], rec0['density'])}, n_train = {rec0['n_train']}: averaging forecast vs truth", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_calibration(records: list[dict[str, Any]], path: Path) -> Path:
    """Coverage of the forecast's intervals against their nominal level, per model and resolution.

    Dashed: the coverage a perfectly calibrated forecast with the same members and volumes has
    (below the diagonal because σ²_model is estimated from K members).
    """
    recs = [r for r in records if r.get("calibration")]
    fig, ax = plt.subplots(figsize=(5.0, 4.6))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    cmap = plt.get_cmap("viridis")
    for i, rec in enumerate(recs):
        cal = rec["calibration"]
        colour = cmap(i / max(1, len(recs) - 1))
        levels = np.asarray(cal["levels"], dtype=float)
        observed = np.asarray([np.nan if v is None else v for v in cal["observed"]], dtype=float)
        reference = np.asarray([np.nan if v is None else v for v in cal["reference"]], dtype=float)
        ax.plot(levels, observed, marker="o", ms=2.5, color=colour, label=f"{rec['model']} Q = {rec['quantiles']}")
        ax.plot(levels, reference, ls="--", lw=0.9, color=colour)
    ax.set_xlabel("nominal coverage (central normal interval)")
    ax.set_ylabel("fraction of volumes whose truth is inside")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("calibration of the forecast (dashed: perfectly calibrated, same K)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def read_volume_table(path: Path) -> list[dict[str, Any]]:
    """The rows of the averaging method's per-volume CSV (numbers as floats, NaN where empty)."""
    import csv

    rows = []
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            parsed: dict[str, Any] = {}
            for key, value in row.items():
                try:
                    parsed[key] = float(value) if value != "" else np.nan
                except ValueError:
                    parsed[key] = value
            rows.append(parsed)
    return rows


def plot_volume_map(density: Density, rows: list[dict[str, Any]], path: Path) -> Path:
    """The forecast G∞ of every volume, one panel per resolution (pooled over repetitions).

    A ring's grid is drawn in the plane (polar cells); a 1D density as G∞ per bin. Volumes whose
    pooled σ²_model is not resolved are left grey: they get no number.
    """
    qs = sorted({int(r["quantiles"]) for r in rows})
    polar = density.coordinates == "spherical" and density.dim == 2
    fig = plt.figure(figsize=(3.6 * len(qs), 3.8))
    values = np.array([r["G_inf"] for r in rows], dtype=float)
    finite = values[np.isfinite(values) & (values > 0)]
    norm = matplotlib.colors.LogNorm(vmin=max(finite.min(), 0.1), vmax=finite.max()) if finite.size else None
    mappable = None
    for i, q in enumerate(qs):
        mine = [r for r in rows if int(r["quantiles"]) == q]
        if polar:
            ax = fig.add_subplot(1, len(qs), i + 1, projection="polar")
            r_edges = sorted({r["lo0"] for r in mine} | {r["hi0"] for r in mine})
            r_top = r_edges[-2] + (r_edges[-2] - r_edges[-3] if len(r_edges) > 2 else 1.0)
            for row in mine:
                g = row["G_inf"]
                r0, r1 = row["lo0"], min(row["hi0"], r_top)
                colour = plt.get_cmap("viridis")(norm(g)) if norm and np.isfinite(g) and g > 0 else "lightgrey"
                ax.bar((row["lo1"] + row["hi1"]) / 2, r1 - r0, width=row["hi1"] - row["lo1"], bottom=r0,
                       color=colour, edgecolor="white", linewidth=0.3)  # fmt: skip
            ax.set_ylim(0, r_top)
            ax.set_yticklabels([])
            ax.set_xticklabels([])
        else:
            ax = fig.add_subplot(1, len(qs), i + 1)
            lo = np.array([r["lo0"] for r in mine])
            hi = np.array([r["hi0"] for r in mine])
            width = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
            span = np.isfinite(lo) & np.isfinite(hi)
            lo = np.where(np.isfinite(lo), lo, hi - width[span].mean() if span.any() else hi - 1)
            hi = np.where(np.isfinite(hi), hi, lo + width[span].mean() if span.any() else lo + 1)
            g = np.array([r["G_inf"] for r in mine], dtype=float)
            ax.bar((lo + hi) / 2, np.where(np.isfinite(g), g, 0.0), width=hi - lo, color=COLOURS.get(mine[0]["model"]),
                   alpha=0.7, edgecolor="white")  # fmt: skip
            ax.set_yscale("log")
            ax.set_xlabel(density.axis_names[0])
            ax.set_ylabel("G∞ per volume" if i == 0 else "")
        ax.set_title(f"Q = {q}", fontsize=9)
    if polar and norm is not None:
        mappable = matplotlib.cm.ScalarMappable(norm=norm, cmap="viridis")
        fig.colorbar(mappable, ax=fig.axes, shrink=0.8, label="forecast G∞ per volume (grey: not resolved)")
    fig.suptitle(f"{LABELS.get(rows[0]['model'], rows[0]['model'])}: where the network amplifies", fontsize=10)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# ---- differential amplification -----------------------------------------------------------------
def plot_differential(rec: dict[str, Any], path: Path, mapped: tuple[np.ndarray, np.ndarray] | None = None,
                      axes: tuple[str, ...] | None = None) -> Path:  # fmt: skip
    """Four panels: the KS distance against sample size with the null band, the local profile
    G(y) along the likelihood ratio (on a pool: along the classifier's logit), the profile
    mapped back onto the generated events of repetition 0 (on ``axes``, two observables, where
    given), and the classifier's weight histogram."""
    from scipy.stats import kstwobign

    from genamp.estimators.differential import KAPPA

    fig, (ax1, ax2, ax4, ax3) = plt.subplots(1, 4, figsize=(18.0, 4.2))
    colour = COLOURS.get(rec["model"], "tab:red")
    curve = rec["curve"]
    n = np.asarray(curve["n"], dtype=float)
    ks, std = np.asarray(curve["ks_mean"], dtype=float), np.asarray(curve["ks_std"], dtype=float)
    ax1.errorbar(n, ks, yerr=std, marker="o", color=colour, capsize=3, label="mixture vs truth sample: KS")
    nn = np.geomspace(n[0], n[-1] * 3, 100)
    scale = np.sqrt(1 / nn + 1 / curve["n_truth"])
    ax1.plot(nn, KAPPA * scale, color="black", lw=1, label="no difference: Kolmogorov null mean")
    lo, hi = kstwobign.ppf([0.05, 0.95])
    ax1.fill_between(nn, lo * scale, hi * scale, color="grey", alpha=0.2, label="null 5–95% (Kolmogorov law)")
    for key, style, name in (("truth", "-", "δ from the truth"), ("forecast", "--", "δ forecast from members")):
        part = rec.get(key)
        if part and part.get("delta"):
            ax1.axhline(part["delta"], color=colour, ls=style, lw=1, label=f"{name} (G = {part['G']:.3g})" if part.get("G") else name)
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("generated events")
    summary = "−(classifier logit)" if rec.get("truth_check") == "classifier" else "log p_gen − log p_true"
    ax1.set_ylabel(f"KS distance along {summary}")
    ax1.legend(fontsize=7)
    prof = rec["profile"]
    g = np.asarray([np.nan if v is None else v for v in prof["G"]], dtype=float)
    y = np.asarray(prof["y"], dtype=float)
    ax2.plot(y, np.where(np.isfinite(g), g, np.nan), marker="o", ms=3, color=colour)
    unbounded = ~np.isfinite(g)
    if unbounded.any():
        top = np.nanmax(g) if np.isfinite(g).any() else 10.0
        ax2.plot(y[unbounded], np.full(unbounded.sum(), top * 1.5), "^", color="grey", label="consistent with the truth")
        ax2.legend(fontsize=7)
    ax2.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax2.set_yscale("log")
    ax2.set_xlabel(f"y: region {{{summary} ≤ y}}")
    ax2.set_ylabel("local G(y) (repetition 0)")
    if mapped is not None:
        events, n_equiv = mapped
        g = np.clip(n_equiv / rec["n_train"], 1e-3, 1e4)
        norm = matplotlib.colors.LogNorm(vmin=max(g.min(), 1e-2), vmax=min(max(g.max(), 1.1), 1e3))
        if events.shape[1] == 1:
            ax4.scatter(events[:, 0], g, s=2, c=g, norm=norm, cmap="viridis")
            ax4.set_yscale("log")
            ax4.set_xlabel("x")
            ax4.set_ylabel("local G of the event's region")
        else:
            sc = ax4.scatter(events[:, 0], events[:, 1], s=2, c=g, norm=norm, cmap="viridis")
            fig.colorbar(sc, ax=ax4, label="local G of the event's region")
            if axes is None:
                ax4.set_aspect("equal")
            else:  # two observables (on top pairs m_W and m_t): their central 98%
                ax4.set_xlabel(axes[0])
                ax4.set_ylabel(axes[1])
                ax4.set_xlim(*np.percentile(events[:, 0], [1, 99]))
                ax4.set_ylim(*np.percentile(events[:, 1], [1, 99]))
        ax4.set_title("the profile on generated events (repetition 0)", fontsize=9)
    else:
        ax4.set_axis_off()
    bins = np.asarray(rec["classifier"]["weight_bins"], dtype=float)
    counts = np.asarray(rec["classifier"]["weight_counts"], dtype=float)
    ax3.stairs(counts, bins, color=colour, fill=True, alpha=0.5)
    ax3.axvline(0.0, color="black", lw=0.8, ls=":")
    ax3.set_xlabel("log10 w,  w = D/(1 − D) ≈ p_true/p_gen")
    ax3.set_ylabel("generated test events (all repetitions)")
    clf = rec["classifier"]
    ax3.set_title(f"AUC {clf['auc']:.3f} (truth vs truth {clf['auc_truth_vs_truth']:.3f}), ESS {100 * clf['ess_fraction']:.0f}%", fontsize=9)
    where = TITLES.get(rec["density"], rec["density"]) if rec.get("density") else f"pool {Path(str(rec.get('pool'))).name}"
    fig.suptitle(f"{LABELS.get(rec['model'], rec['model'])} on the {where}, "
                 f"n_train = {rec['n_train']}: differential amplification", fontsize=10)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
