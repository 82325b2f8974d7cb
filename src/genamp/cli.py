"""The ``genamp`` command.

``genamp run camel --out DIR`` runs the GANplification camel-back study; ``genamp estimate``
measures a user's own generated samples against a toy truth. Every problem with the input is
one line on stderr starting with ``error:`` and exit status 2; a stopped study says how to
resume and exits with 130.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
)
from rich.text import Text
from rich.markup import escape
from rich.table import Table

from genamp import _validate
from genamp.errors import GenampError
from genamp.models.registry import MODEL_REGISTRY
from genamp.study.config import DEFAULT_N_GEN

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    # help texts are plain text: "[default: 2]" is shown, not read as rich markup and dropped
    rich_markup_mode=None,
    help="How many true events is a generative network's sample worth? Amplification factors on toys.",
)
err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


_STYLES = {"error": "bold red", "warning": "yellow", "stopped": "yellow", "note": "cyan"}


def _say(kind: str, message: str, console: Console | None = None) -> None:
    """One line ``kind: message`` on stderr; the message is printed as is (no markup)."""
    (console or err).print(f"[{_STYLES.get(kind, 'bold')}]{kind}:[/] " + escape(message), soft_wrap=True)


def _ints(text: str, option: str) -> list[int]:
    """'10,20,50' or '1e3,1e4' as integers; a clear error naming the option otherwise."""
    values = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise GenampError(f"{option}: an empty item in {text!r}; give numbers separated by single commas")
        try:
            value = float(item)
        except ValueError:
            raise GenampError(f"{option}: {item!r} is not a number") from None
        if not np.isfinite(value) or not value.is_integer():
            raise GenampError(f"{option}: {item!r} is not a whole number")
        values.append(int(value))
    if not values:
        raise GenampError(f"{option}: give at least one value")
    return values


def _number(text: str, option: str) -> float:
    """A number typed for ``option`` (``2000``, ``0.2``, ``1e4``)."""
    try:
        return float(text)
    except ValueError:
        raise GenampError(f"{option} must be a number, got {text!r}") from None


def _names(text: str) -> list[str]:
    """'sample,fit' as names; an empty item is left in, for the config to name it."""
    return [v.strip() for v in text.split(",")]


def _model_settings(items: list[str]) -> dict[str, dict[str, str]]:
    """``--set MODEL.KEY=VALUE`` items as {model: {key: text}}; the study reads each text by the
    type of the setting's default."""
    settings: dict[str, dict[str, str]] = {}
    for item in items:
        target, sep, value = item.partition("=")
        model, dot, key = target.strip().partition(".")
        model, key, value = model.strip(), key.strip(), value.strip()
        if not (sep and dot and model and key and value):
            raise GenampError(f"--set: expected MODEL.KEY=VALUE (e.g. cfm.steps=8000), got {item!r}")
        if key in settings.get(model, {}):
            raise GenampError(f"--set: {model}.{key} given twice; give each setting once")
        settings.setdefault(model, {})[key] = value
    return settings


def _density_params(dim: int | None, params: list[str]) -> dict[str, Any]:
    out_params: dict[str, Any] = {}
    if dim is not None:
        out_params["dim"] = dim
    for item in params:
        for pair in item.split(","):
            key, sep, value = pair.partition("=")
            key = key.strip()
            if not sep or not key:
                raise GenampError(f"--density-param: expected key=value, got {pair!r}")
            if key in out_params:
                given = "--dim and --density-param dim" if key == "dim" and dim is not None else f"{key} twice"
                raise GenampError(f"--density-param: {given} given; give each parameter once")
            try:
                out_params[key] = float(value)
            except ValueError:
                raise GenampError(f"--density-param: {key} must be a number, got {value!r}") from None
    return out_params


QuantilesOpt = Annotated[str, typer.Option("--quantiles", "-q", help="Quantiles per axis, comma-separated.")]
DimOpt = Annotated[int | None, typer.Option("--dim", help="Dimension of shell / camels.")]
ClusterOpt = Annotated[
    str | None, typer.Option("--cluster", help="Run on a Dask cluster instead of --workers processes: local:N (N worker processes on this machine) [README: On a cluster].")
]
SchedulerOpt = Annotated[
    str | None, typer.Option("--scheduler", help="Run on the existing Dask cluster whose scheduler is at tcp://HOST:PORT (dask-jobqueue on Slurm: README, On a cluster).")
]


def _cluster_of(cluster: str | None, scheduler: str | None, workers: int | None) -> str | None:
    """The Dask cluster's address (``local:N`` or ``tcp://...``), or ``None`` for the local pool."""
    from genamp.cluster import parse

    if cluster is not None and scheduler is not None:
        raise GenampError("give --cluster local:N (a cluster started here) or --scheduler tcp://HOST:PORT (one running), not both")
    if workers is not None and (cluster is not None or scheduler is not None):
        raise GenampError("--workers sizes the local process pool; on a Dask cluster its workers run the work (local:N gives N)")
    if cluster is not None and parse(cluster)[0] != "local":
        raise GenampError(f"--cluster {cluster}: a running cluster's scheduler is given with --scheduler {cluster}")
    if scheduler is not None and parse(scheduler)[0] != "tcp":
        raise GenampError(f"--scheduler {scheduler}: give the scheduler's address tcp://HOST:PORT (a cluster started here is --cluster local:N)")
    return cluster or scheduler
ParamOpt = Annotated[
    list[str], typer.Option("--density-param", help="Density parameter as key=value (e.g. mu1=-3,sigma1=0.5).")
]


@app.command()
def run(
    ctx: typer.Context,
    density: Annotated[
        str | None, typer.Argument(help="Toy truth: camel, ring, shell, camels; or ttbar, top pairs from Pythia 8 as a pool "
                                   "(with --level) [default: camel; none with --pool].")
    ] = None,
    level: Annotated[
        str | None, typer.Option("--level", help="ttbar: parton (the six quarks) or jet (six jets after shower and hadronisation).")
    ] = None,
    pool_events: Annotated[
        int | None, typer.Option("--pool-events", help="ttbar: events of the pool, from the cache or generated once "
                                 "[default: 10^6 parton, 2·10^5 jet].")
    ] = None,
    isr: Annotated[bool, typer.Option("--isr/--no-isr", help="ttbar: initial-state radiation in the pool's events [default: on].")] = True,
    mpi: Annotated[
        bool | None, typer.Option("--mpi/--no-mpi", help="ttbar at jet level: multi-parton interactions [default: on].")
    ] = None,
    coordinates: Annotated[
        str | None, typer.Option("--coordinates", help="On top-pair four-momenta: what the networks train in, decay or objects "
                                 "[default: decay for ttbar; the file's columns otherwise].")
    ] = None,
    pool: Annotated[
        Path | None,
        typer.Option("--pool", help="True events (.h5, .npy, .npz, .root) as the truth: training sets are drawn from it, the rest is the truth."),
    ] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", help="Array name inside the pool's HDF5/.npz file, or its ROOT tree.")] = None,
    observables: Annotated[
        str | None, typer.Option("--observables", help="On a pool: the observables, comma-separated: feature names, x0,x1,..., or on four-momenta t_m, Wp_m, b_pt, dR_b_q1, ... [default: every column].")
    ] = None,
    pairs: Annotated[
        str | None, typer.Option("--pairs", help="On a pool: pairs of observables for Q×Q volumes, e.g. pt:eta,m:pt.")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder (default: runs/DENSITY).")] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m",
            help=f"Models, comma-separated: {', '.join(MODEL_REGISTRY)} "
            "[default: sample,fit,cfm; cfm alone for --method averaging]",
        ),
    ] = None,
    method: Annotated[
        str, typer.Option("--method", help="Estimators, comma-separated: truth, averaging, differential (all read the same trainings).")
    ] = "truth",
    ensemble: Annotated[
        int, typer.Option("--ensemble", "-K", help="Members per repetition of every network (default 10 for averaging).")
    ] = 0,
    ensemble_mode: Annotated[
        str | None, typer.Option("--ensemble-mode", help="How members differ: bootstrap (calibrates) or seed [default: bootstrap].")
    ] = None,
    bayesian: Annotated[
        int, typer.Option("--bayesian", "-M", help="Posterior draws per repetition of bflow/bcfm (default 10 for averaging).")
    ] = 0,
    kl_weight: Annotated[float | None, typer.Option("--kl-weight", help="KL weight of the Bayesian models [default: 1].")] = None,
    init_logvar: Annotated[
        float | None, typer.Option("--init-logvar", help="Initial log-variance of the Bayesian weights [default: -9].")
    ] = None,
    significance: Annotated[
        float | None,
        typer.Option("--significance", help="Standard errors σ²_model must clear before a forecast is a number [default: 2].")
    ] = None,
    holdout: Annotated[
        str | None,
        typer.Option("--holdout", help="True events withheld from every member, per repetition, to falsify the averaging forecast: "
                     "a count (2000) or a fraction of --n-train (0.2); 0: none [default: 0.2 with --method averaging].")
    ] = None,
    quantiles: QuantilesOpt = "10,20,50",
    n_train: Annotated[int, typer.Option("--n-train", help="Training events per repetition.")] = 100,
    repetitions: Annotated[int, typer.Option("--repetitions", "-r", help="Independent repetitions.")] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Study seed.")] = 1,
    workers: Annotated[int | None, typer.Option("--workers", "-j", help="Worker processes (default: all cores).")] = None,
    cluster: ClusterOpt = None,
    scheduler: SchedulerOpt = None,
    device: Annotated[
        str | None,
        typer.Option("--device", help="Where the networks train and sample: cpu or cuda (cuda:N); the same seed draws the "
                     "same numbers on both, so a study may resume on the other [default: cpu].")
    ] = None,
    dim: DimOpt = None,
    density_param: ParamOpt = [],  # noqa: B006 - typer needs a literal default
    n_gen: Annotated[
        str | None,
        typer.Option(
            "--n-gen",
            help="Generated-sample sizes of a generator's MSE curve [default: "
            + ",".join(f"{n:.0e}".replace("+0", "") for n in DEFAULT_N_GEN) + "].",
        ),
    ] = None,
    plateau: Annotated[str | None, typer.Option("--plateau", help="Plateau estimate: corrected or fit [default: corrected].")] = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Redo repetitions whose fit failed.")] = False,
    keep_samples: Annotated[
        Path | None, typer.Option("--keep-samples", help="Write every generator's events and each training set as HDF5 files into this folder ({model}-{setting}/rep{r}/member{m}.h5, train.h5), for genamp assess or your own tools.")
    ] = None,
    settings: Annotated[
        list[str],
        typer.Option(
            "--set",
            help="A model's setting as MODEL.KEY=VALUE, repeatable: --set cfm.steps=8000 --set cfm.hidden=64,64 "
            "(genamp models lists each model's settings and defaults).",
        ),
    ] = [],  # noqa: B006 - typer needs a literal default
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="A YAML file of the study's settings (density, models, methods, quantiles, n_train, repetitions, "
            "seed, n_gen, settings, ...); options given here override it, --set and --density-param merge into it.",
        ),
    ] = None,
) -> None:
    """Run (or resume) a truth-based amplification study and write results.json and plots."""
    from genamp.study.config import StudyConfig, read_config
    from genamp.study.runner import run_study

    fields = read_config(config_file) if config_file is not None else {}
    options = {  # the study as the command line gives it (its defaults where nothing is typed)
        "density": density,
        "pool": None if pool is None else str(pool),
        "dataset": dataset,
        "observables": None if observables is None else tuple(_names(observables)),
        "pairs": () if pairs is None else tuple(_names(pairs)),
        "models": None if model is None else tuple(_names(model)),
        "methods": tuple(_names(method)),
        "ensemble": ensemble,
        "ensemble_mode": ensemble_mode,
        "bayesian": bayesian,
        "kl_weight": kl_weight,
        "init_logvar": init_logvar,
        "significance": significance,
        "holdout": None if holdout is None else _number(holdout, "--holdout"),
        "coordinates": coordinates,
        "quantiles": tuple(_ints(quantiles, "--quantiles")),
        "n_train": n_train,
        "repetitions": repetitions,
        "seed": seed,
        "n_gen": None if n_gen is None else tuple(_ints(n_gen, "--n-gen")),
        "plateau": plateau,
    }
    for name, value in options.items():
        # an option typed on the command line wins; one left at its default gives way to the file
        if name not in fields or _on_command_line(ctx, {"models": "model", "methods": "method"}.get(name, name)):
            fields[name] = value
    fields["density_params"] = _merged(fields.get("density_params", {}), _density_params(dim, density_param))
    fields["settings"] = _merged_settings(fields.get("settings", {}), _model_settings(settings))
    address = _cluster_of(cluster, scheduler, workers)
    ttbar_options = {"--level": level, "--pool-events": pool_events, "--no-isr": None if isr else False, "--mpi/--no-mpi": mpi}
    if fields.get("density") == "ttbar":
        given = set(read_config(config_file)) if config_file is not None else set()
        given |= {name for name in options if _on_command_line(ctx, {"models": "model"}.get(name, name))}
        fields.update(_ttbar_study(level, pool_events, isr, mpi, workers, given, fields["settings"], fields.get("models"), address))
    elif any(v is not None for v in ttbar_options.values()):
        typed = [k for k, v in ttbar_options.items() if v is not None]
        raise GenampError(f"{', '.join(typed)} appl{'ies' if len(typed) == 1 else 'y'} to the top-pair study (genamp run ttbar --level parton)")
    config = StudyConfig(**fields)
    density, n_train = config.density, config.n_train  # the file's where the command line gave none
    # the bar appears with the first progress report: a setting that run_study refuses (a
    # folder it cannot write, no workers) stays a single error line
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
    )
    truth = config.density if config.pool is None else f"pool {config.pool}"
    handle = bar.add_task(f"{truth}: tasks", total=None)

    for warning in config.warnings:
        _say("warning", warning)

    def progress(done: int, total: int, summary: dict[str, Any]) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(handle, completed=done, total=total)
        if summary.get("status") == "failed":
            _say("warning", f"{summary['task']} failed: {summary['error']}", console=bar.console)
        elif summary.get("status") == "damaged":
            _say("warning", f"{summary['task']}: {summary['error']}", console=bar.console)
        elif summary.get("status") == "note":
            _say("note", summary["error"], console=bar.console)

    try:
        result = run_study(
            config, out_dir if out_dir is not None else Path("runs") / (
                config.density or (f"ttbar-{level}" if density == "ttbar" else Path(str(config.pool)).stem)),
            workers=workers, progress=progress, retry_failed=retry_failed, device=device, samples=keep_samples, cluster=address,
        )
    finally:
        if bar.live.is_started:
            bar.stop()
    if result.resumed:
        _say("note", f"resumed: {result.resumed} finished task(s) found in {result.out}, {result.ran} run now")
    truth_records = [r for r in result.records if r["method"] == "truth"]
    if truth_records:
        _print_table(truth_records, f"truth-based amplification G = n_equiv / n_train  ({truth}, n_train = {n_train})")
    forecasts = [r for r in result.records if r["method"] == "averaging"]
    if forecasts:
        _print_forecast(forecasts, f"averaging forecast G∞ beside the truth-based G of the same mixture ({truth}, n_train = {n_train})",
                        skip=frozenset(config.warnings))
    differential = [r for r in result.records if r["method"] == "differential"]
    if differential:
        _print_differential(differential, f"differential G (KS along the likelihood ratio{'; truth G: a classifier against the pool' if config.pool else ''}; "
                           f"{truth}, n_train = {n_train})",
                            skip=frozenset(config.warnings))
    for model, advice in result.generation.items():
        _say("advice", f"{model}: {advice['advice']}")
    if result.failures:
        by_model: dict[str, list[int]] = {}
        for f in result.failures:
            by_model.setdefault(f["model"], []).append(f["repetition"])
        for m, reps in by_model.items():
            _say(
                "warning",
                f"{m} failed in {len(reps)} of {config.repetitions} repetitions "
                f"({', '.join(map(str, reps[:10]))}{' ...' if len(reps) > 10 else ''}); "
                "its results use the others (details in results.json)"
            )
    _say("results", str(result.results_path))
    for p in result.plots:
        _say("plot", str(p))
    from genamp.report.html import write_report

    _say("report", str(write_report(result.results_path.parent)))


def _ttbar_study(level: str | None, events: int | None, isr: bool, mpi: bool | None, workers: int | None,
                 given: set[str], settings: dict[str, Any], models: tuple[str, ...] | None,
                 cluster: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The fields of ``genamp run ttbar``: the pool from the cache (generated where it is not
    there), and the top-pair defaults of :data:`genamp.study.ttbar.DEFAULTS` where nothing was given."""
    from genamp.data import cache, ttbar
    from genamp.study import ttbar as study

    if level is None:
        raise GenampError("genamp run ttbar needs --level parton or --level jet")
    if level not in study.POOL_EVENTS:
        raise GenampError(f"--level must be one of {', '.join(study.POOL_EVENTS)}, got {level!r}")
    n = study.POOL_EVENTS[level] if events is None else ttbar.check_events(events)
    spec = ttbar.TtbarSpec.make(level, 1, isr, mpi, None)
    path = cache.cached_ttbar(spec, n)
    if path is None:
        ttbar.require(level)
        _say("note", f"the pool of {n} {level}-level events is not in the cache ({cache.cache_dir()}): generating it now, once")
        path = _generate_ttbar(level, n, cache.ttbar_path(spec, n), 1, isr, mpi, workers, None, cluster).path
    fields: dict[str, Any] = {"density": None, "pool": str(path)}
    fields.update({k: v for k, v in study.DEFAULTS.items() if k not in given})
    if "cfm" in (models if models is not None else study.DEFAULTS["models"]):
        # the top pairs' network under the user's --set
        fields["settings"] = {**settings, "cfm": {**study.CFM_SETTINGS, **settings.get("cfm", {})}}
    if "observables" not in given:
        names, skipped = study.observables(path)
        fields["observables"] = tuple(names)
        if skipped:
            _say("note", f"{len(names)} observables; not binned: {', '.join(skipped)}")
    return fields


@app.command()
def models() -> None:
    """The models a study can run, and the settings each takes (genamp run --set MODEL.KEY=VALUE)."""
    from genamp.models.registry import BAYESIAN_OPTIONS

    table = Table(title="models and their settings (defaults)")
    for column in ("model", "what it is", "settings"):
        table.add_column(column, overflow="fold")
    for name, entry in MODEL_REGISTRY.items():
        defaults = entry.settable().defaults if entry.settable is not None else {}
        text = ", ".join(f"{k}={_setting_text(v)}" for k, v in defaults.items()) or "none"
        if entry.bayesian and entry.network:
            text += f"; {', '.join(BAYESIAN_OPTIONS)}: the options {', '.join('--' + o.replace('_', '-') for o in BAYESIAN_OPTIONS)}"
        table.add_row(name, entry.description, text)
    out.print(table)


def _setting_text(value: Any) -> str:
    """A default as --set takes it: 64,64 for a tuple."""
    if isinstance(value, tuple):
        return ",".join(_setting_text(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _on_command_line(ctx: typer.Context, option: str) -> bool:
    """Whether ``option`` was given (on the command line or from the environment), not defaulted."""
    source = ctx.get_parameter_source(option)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def _merged(base: Any, over: dict[str, Any]) -> Any:
    """``over`` merged into the mapping ``base`` (anything else is left for the study to refuse)."""
    return {**base, **over} if isinstance(base, dict) else base


def _merged_settings(base: Any, over: dict[str, dict[str, Any]]) -> Any:
    """``--set`` items merged into a file's settings, model by model."""
    if not isinstance(base, dict):
        return base
    return {**base, **{model: _merged(base.get(model, {}), values) for model, values in over.items()}}


def _print_table(records: list[dict[str, Any]], title: str) -> None:
    """G per model (and observable, on a pool) in rows, per resolution in columns."""
    qs = sorted({r["quantiles"] for r in records})
    observables = any("observable" in r for r in records)
    table = Table(title=title, title_justify="left")
    table.add_column("model")
    if observables:
        table.add_column("observable")
    for q in qs:
        table.add_column(f"Q = {q}", justify="right")
    for model, observable in dict.fromkeys((r["model"], r.get("observable")) for r in records):
        mine = [r for r in records if r["model"] == model and r.get("observable") == observable]
        cells = [_cell(next((r for r in mine if r["quantiles"] == q), None)) for q in qs]
        table.add_row(_spread_label(mine[0]), *([observable] if observables else []), *cells)
    out.print(table)


def _print_forecast(records: list[dict[str, Any]], title: str, skip: frozenset[str] = frozenset()) -> None:
    """Forecast and truth side by side per model and resolution, then each record's warnings
    (but those in ``skip``: the study's own, printed before it ran).

    "1 training": the 16–84% range of one training's forecast; "member": one member's forecast and
    truth; "ideal": the coverage a perfectly calibrated forecast with the same K would have.
    """
    table = Table(title=title, title_justify="left")
    for name, justify in (("model", "left"), ("Q", "right"), ("forecast G∞", "right"), ("1 training", "right"),
                          ("truth G", "right"), ("member", "right"), ("cover 68/95", "right"),
                          ("ideal", "right")):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    warnings = []
    for rec in records:
        label = _spread_label(rec) + (f" {rec['observable']}" if "observable" in rec else "")
        warnings += [f"{label} Q = {rec['quantiles']}: {w}" for w in rec.get("warnings", []) if w not in skip]
        if rec.get("G_inf") is None:
            table.add_row(label, str(rec["quantiles"]), "no number", "", _g(rec.get("truth_G")), "", "", "")
            continue
        lo, hi = rec["G_inf_spread"]
        cov, ref = rec["coverage"], rec["reference_coverage"]
        table.add_row(
            label, str(rec["quantiles"]),
            f"{_g(rec['G_inf'])} ± {_g(rec['G_inf_std'], 2)}", f"{_g(lo)}–{_g(hi)}",
            f"{_g(rec['truth_G'])} ± {_g(rec['truth_G_std'], 2)}",
            f"{_g(rec['G_inf_member'])}/{_g(rec['truth_G_member'])}",
            f"{_pct(cov['68'])}/{_pct(cov['95'])}", f"{_pct(ref['68'])}/{_pct(ref['95'])}",
        )  # fmt: skip
    out.print(table)
    for w in warnings:
        _say("warning", w)


def _print_differential(records: list[dict[str, Any]], title: str, skip: frozenset[str] = frozenset()) -> None:
    """Forecast from pairs of generators beside the truth check and the classifier (docs/formulas.md §3, §4)."""
    table = Table(title=title, title_justify="left")
    for name in ("model", "forecast G", "truth G", "member: forecast/truth", "classifier AUC", "truth vs truth", "ESS"):
        table.add_column(name, justify="left" if name == "model" else "right")
    warnings = []

    def pm(part: dict[str, Any] | None) -> str:
        if not part or part.get("G") is None:
            return "–"
        return f"{_g(part['G'])} ± {_g(part.get('G_std'), 2)}"

    for rec in records:
        label = _spread_label(rec)
        warnings += [f"{label}: {w}" for w in rec.get("warnings", []) if w not in skip]
        fc, truth, clf = rec.get("forecast"), rec["truth"], rec["classifier"]
        member = f"{_g((rec.get('forecast_member') or {}).get('G'))}/{_g((rec.get('truth_member') or {}).get('G'))}"
        table.add_row(label, pm(fc), pm(truth), member, f"{clf['auc']:.3f}", f"{clf['auc_truth_vs_truth']:.3f}",
                      _pct(clf["ess_fraction"]))  # fmt: skip
    out.print(table)
    for w in warnings:
        _say("warning", w)


def _spread_label(rec: dict[str, Any]) -> str:
    spread = rec.get("spread") or {}
    if "members" in spread:
        return f"{rec['model']}×{spread['members']} {spread['mode'][:4]}"
    if spread.get("sampler") == "langevin":
        return f"{rec['model']} {spread['draws']} chain states T={spread['temperature']:g}"
    if "draws" in spread and "kl_weight" in spread:
        return f"{rec['model']} {spread['draws']} draws KL×{spread['kl_weight']:g} σ₀²=e^{spread.get('init_logvar', -9):g}"
    if "draws" in spread:
        return f"{rec['model']} {spread['draws']} draws"
    return str(rec["model"])


def _g(x: float | None, digits: int = 3) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.{digits}g}"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def _cell(rec: dict[str, Any] | None) -> str:
    if rec is None or (rec.get("G") is None and rec.get("n_equiv_lower") is None):
        return "failed"
    if not rec["resolved"] or rec.get("G") is None:
        return f"≥ {rec['n_equiv_lower'] / rec['n_train']:.3g}  (≥ {rec['n_equiv_lower']:.0f})"
    std = rec.get("G_std")
    err_txt = f" ± {std:.2g}" if std is not None and np.isfinite(std) else ""
    return f"{rec['G']:.3g}{err_txt}  ({rec['n_equiv']:.0f})"


@app.command()
def estimate(
    samples: Annotated[
        list[Path], typer.Option("--samples", "-s", help="Generated events (.h5, .npy, .npz, .root); one file per training.")
    ],
    n_train: Annotated[int, typer.Option("--n-train", help="Training events the generator saw.")],
    density: Annotated[str | None, typer.Argument(help="Toy truth (camel, ring, shell, camels), or --pool.")] = None,
    quantiles: QuantilesOpt = "10,20,50",
    dataset: Annotated[str | None, typer.Option("--dataset", help="Array name inside HDF5/.npz files, or the ROOT tree.")] = None,
    dim: DimOpt = None,
    density_param: ParamOpt = [],  # noqa: B006
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="Write the records to this JSON file.")] = None,
    name: Annotated[str, typer.Option("--name", help="Model name in the records.")] = "external",
    members: Annotated[
        bool,
        typer.Option(
            "--members",
            help="The files are the K members (or posterior draws) of one training: also forecast G from their spread.",
        ),
    ] = False,
    significance: Annotated[
        float | None, typer.Option("--significance", help="With --members: see genamp run --help [default: 2].")
    ] = None,
    pool: Annotated[
        Path | None, typer.Option("--pool", help="True events (.h5, .npy, .npz, .root) as the truth, instead of a toy.")
    ] = None,
    observables: Annotated[
        str | None, typer.Option("--observables", help="With --pool: feature names, x0,x1,..., or on four-momenta t_m, Wp_m, b_pt, dR_b_q1, ... [default: every column].")
    ] = None,
    pairs: Annotated[
        str | None, typer.Option("--pairs", help="With --pool: pairs of observables for Q×Q volumes, e.g. pt:eta,m:pt.")
    ] = None,
    training: Annotated[
        Path | None, typer.Option("--training", help="With --pool: the training set; its quantiles fix the edges.")
    ] = None,
    plots: Annotated[Path | None, typer.Option("--plots", help="Write the plots into this folder.")] = None,
) -> None:
    """The older name of genamp assess, kept for its options: files of independent trainings
    (or, with --members, one training's members) against a toy truth or a pool.

    genamp estimate ring -s a.h5 -s b.h5 --n-train N  is  genamp assess --truth ring -g a.h5 -g b.h5 --n-train N --trainings;
    --training is assess's --train, --out a results file and --plots a folder of plots.
    """
    from genamp.estimators.averaging import SIGNIFICANCE

    if significance is not None and not members:
        raise GenampError("--significance applies to the averaging forecast of --members")
    _assess(train=training, files=samples, n_train=n_train, toy=(density, dim, density_param), pool=pool, observables=observables,
            pairs=pairs, quantiles=quantiles, significance=SIGNIFICANCE if significance is None else significance, dataset=dataset,
            name=name, members=members, results_file=out_file, plot_dir=plots, metrics=False, classifier=False)  # fmt: skip


@app.command()
def assess(
    generated: Annotated[
        list[Path], typer.Option("--generated", "-g", help="Generated events, one file per ensemble member or posterior draw (repeat, or list the rest as arguments).")
    ],
    more: Annotated[list[Path] | None, typer.Argument(help="More generated files (after --generated m1.h5: m2.h5 m3.h5 ...).", show_default=False)] = None,
    train: Annotated[
        Path | None, typer.Option("--train", help="The training set the generator saw (.h5, .npy, .npz, .root): n_train, the feature names, the bin edges.")
    ] = None,
    n_train: Annotated[
        int | None, typer.Option("--n-train", help="The training set's size, where you do not give its file (--train).")
    ] = None,
    pool: Annotated[Path | None, typer.Option("--pool", help="True events the generator never saw, far more than n_train: the truth.")] = None,
    truth: Annotated[
        str | None, typer.Option("--truth", help="A toy truth instead of a pool (camel, ring, shell, camels; --dim, --density-param): its quantile grids, exact.")
    ] = None,
    dim: DimOpt = None,
    density_param: ParamOpt = [],  # noqa: B006
    trainings: Annotated[
        bool, typer.Option("--trainings", help="The files are independent trainings, not one training's members: each one's truth-based G, their spread its error; no forecast.")
    ] = False,
    holdout: Annotated[Path | None, typer.Option("--holdout", help="True events no member saw: tests the forecast (docs/formulas.md §7.7).")] = None,
    observables: Annotated[
        str | None, typer.Option("--observables", help="Feature names, x0,x1,..., or on four-momenta t_m, Wp_m, b_pt, dR_b_q1, ... [default: every column; with --physics ttbar its observables].")
    ] = None,
    pairs: Annotated[str | None, typer.Option("--pairs", help="Pairs of observables for Q×Q volumes, e.g. pt:eta,m:pt.")] = None,
    physics: Annotated[
        str | None, typer.Option("--physics", help="ttbar: the files are a top pair's four-momenta; the physics observables and the (m_W, m_t) planes are the default.")
    ] = None,
    binning: Annotated[
        Path | None, typer.Option("--binning", help="Your histograms' binning (YAML: observable: [edges]): the uncertainty of every bin, statistical plus model.")
    ] = None,
    n_events: Annotated[
        int | None, typer.Option("--n-events", help="With --binning: the generated events your histograms hold [default: all the members' events].")
    ] = None,
    log_prob: Annotated[
        Path | None, typer.Option("--log-prob", help="The members' log densities at each other's events: an array log_prob (K, K, n), [i, j, e] = log p_j at event e of file i (.h5, .npy, .npz): the differential pair forecast.")
    ] = None,
    auc: Annotated[
        bool, typer.Option("--auc", help="With --pool and the metrics: also a classifier's AUC in events, on a truth line of 25 trained classifiers (a few minutes).")
    ] = False,
    classifier: Annotated[
        bool, typer.Option("--classifier/--no-classifier", help="With --pool: a classifier between the mixture and pool events on the observables, its AUC and the n_equiv of its reference form (an upper bound).")
    ] = True,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Draw the plots (MSE per observable, G per observable) into --out.")] = True,
    edges_from: Annotated[
        str | None, typer.Option("--edges-from", help="Whose quantiles fix the bin edges: train (the training set) or pool (as genamp run --pool takes them) [default: train where it is given].")
    ] = None,
    metrics: Annotated[
        bool, typer.Option("--metrics/--no-metrics", help="With --pool: the n_equiv of the Wasserstein distance per observable and the Fréchet distance, on truth lines measured on the pool.")
    ] = True,
    quantiles: QuantilesOpt = "5,10,20",
    significance: Annotated[float, typer.Option("--significance", help="Standard errors σ²_model must clear before a forecast is a number.")] = 2.0,
    dataset: Annotated[str | None, typer.Option("--dataset", help="Array name inside HDF5/.npz files, or the ROOT tree.")] = None,
    name: Annotated[str, typer.Option("--name", help="The generator's name in the records.")] = "external",
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder: results.json, plots, report.html.")] = Path("runs/assess"),
) -> None:
    """Your own generator from its files: the averaging forecast of its K members per observable
    and how many events to generate; with --holdout the forecast's falsification check; with
    --pool (or a toy --truth) the truth-based G beside each forecast (docs/formulas.md §2, §7).
    With --trainings the files are independent trainings, each measured against the truth."""
    if dim is not None or density_param:
        if truth is None:
            raise GenampError("--dim and --density-param shape a toy --truth")
    _assess(train=train, files=list(generated) + list(more or []), n_train=n_train, toy=None if truth is None else (truth, dim, density_param),
            pool=pool, observables=observables, pairs=pairs, quantiles=quantiles, significance=significance, dataset=dataset, name=name,
            members=not trainings, results_file=out_dir / "results.json", plot_dir=out_dir if plots else None, report=True, holdout=holdout,
            physics=physics, binning=binning, n_events=n_events, log_prob=log_prob, auc=auc, classifier=classifier, edges_from=edges_from,
            metrics=metrics)  # fmt: skip


def _assess(
    *, train: Path | None, files: list[Path], n_train: int | None, toy: tuple[str | None, int | None, list[str]] | None,
    pool: Path | None, observables: str | None, pairs: str | None, quantiles: str, significance: float, dataset: str | None,
    name: str, members: bool, results_file: Path | None, plot_dir: Path | None, report: bool = False, holdout: Path | None = None,
    physics: str | None = None, binning: Path | None = None, n_events: int | None = None, log_prob: Path | None = None,
    auc: bool = False, classifier: bool = True, edges_from: str | None = None, metrics: bool = True,
) -> None:  # fmt: skip
    """The one path of a user's files (``genamp assess``, and ``genamp estimate`` with its own
    option names): every option checked, then every file, before an event is counted."""
    from genamp.study.assess import Inputs
    from genamp.study.assess import assess as assess_files
    from genamp.study.runner import generation_advice
    from genamp.study.store import write_results

    qs = _validate.int_list(_ints(quantiles, "--quantiles"), "quantiles", minimum=2)
    if not (np.isfinite(significance) and significance > 0):
        raise GenampError(f"--significance must be a positive number, got {significance}")
    if physics is not None and physics != "ttbar":
        raise GenampError(f"--physics {physics!r}: genamp knows ttbar (a top pair's six quarks or jets)")
    density = None
    if toy is not None and toy[0] is not None:
        if pool is not None:
            raise GenampError("give one truth: a toy (camel, ring, shell, camels) or a pool of true events (--pool), not both")
        from genamp.densities import make_density

        density = make_density(toy[0], **_density_params(toy[1], toy[2]))  # type: ignore[arg-type]
    elif toy is not None:
        if pool is None:
            raise GenampError("give the truth: a toy (camel, ring, shell, camels) or a pool of true events (--pool)")
        if toy[1] is not None or toy[2]:
            raise GenampError("--dim and --density-param shape a toy truth, not a pool")
    if n_events is not None and binning is None:
        raise GenampError("--n-events applies to the histograms of --binning")
    if n_events is not None:
        _validate.positive_int(n_events, "--n-events", minimum=1)
    if not members and holdout is not None:
        raise GenampError("--holdout tests the averaging forecast of one training's members; --trainings have none")
    if results_file is not None:
        from genamp.study.store import prepare_output, prepare_output_file

        if report:
            prepare_output(results_file.parent)
        else:
            prepare_output_file(results_file)
    if plot_dir is not None and plot_dir != getattr(results_file, "parent", None):
        from genamp.study.store import prepare_output

        prepare_output(plot_dir)
    inputs = Inputs.open(train, files, pool, holdout, dataset, n_train)
    if physics == "ttbar":
        from genamp.study import ttbar as tt

        if inputs.reference.features is None:
            raise GenampError(f"--physics ttbar: {inputs.reference.path} names no features; it must hold the four-momenta b_E, b_px, ...")
        if observables is None:
            names, skipped = tt.observables(inputs.reference.path, dataset)
            observables = ",".join(names)
            if skipped:
                _say("note", f"{len(names)} observables; not binned: {', '.join(skipped)}")
        pairs = ",".join(tt.PAIRS) if pairs is None else pairs
    table = None
    if log_prob is not None:
        from genamp.study.assess import read_log_prob

        table = read_log_prob(log_prob, inputs)
    binned_observables = None
    if binning is not None:
        from genamp.study.assess import read_binning

        binned_observables = read_binning(binning, inputs.reference)
    result = assess_files(inputs, observables, pairs, qs, significance, name, edges_from, density, members)
    for note in result.notes:
        _say("note", note)
    for w in result.warnings:
        _say("warning", w)
    records = result.records
    truth_records = [r for r in records if r["method"] == "truth"]
    forecasts = [r for r in records if r["method"] == "averaging"]
    against = f"the toy {density.name}" if density is not None else f"the pool {pool}"
    about = f"n_train = {inputs.n_train}, {len(inputs.generated)} file(s)"
    if truth_records:
        _print_table(truth_records, f"truth-based amplification of {'each member' if members else name} ({about}, against {against})")
    if forecasts:
        _print_forecast(forecasts, f"averaging forecast of {name}'s mixture ({about})", skip=frozenset(result.warnings))
    elif len(inputs.generated) == 1:
        _say("note", "one file gives no spread over trainings; the error covers the generated-sample noise only")
    for rec in records:
        rec["warnings"] = result.warnings + rec.get("warnings", [])
    generation = generation_advice(records)
    for model, advice in generation.items():
        _say("advice", f"{model}: {advice['advice']}")
    fields: dict[str, Any] = {"files": [str(f.path) for f in inputs.generated]}
    fields.update({k: str(v) for k, v in (("train", train), ("pool", pool), ("holdout", holdout), ("binning", binning)) if v is not None})
    out_dir = None if results_file is None else results_file.parent
    if binned_observables is not None:
        from genamp.study.assess import histogram_uncertainties

        binned = histogram_uncertainties(inputs, binned_observables, n_events, significance)
        _print_uncertainties(binned)
        if out_dir is not None:
            fields["histograms"] = {"table": "uncertainties.csv", "root": "uncertainties.root"}
            for path in _write_uncertainties(binned, out_dir):
                _say("histograms", str(path))
    seen: dict[str, Any] = {}
    for v in result.volumes:
        if len(getattr(v, "observables", ())) == 1:
            seen.setdefault(v.observables[0].name, v.observables[0])  # type: ignore[attr-defined]
    if pool is not None and metrics:
        from genamp.study.assess import metric_equivalents

        fields["metrics"] = metric_equivalents(inputs, list(seen.values()), auc=auc)
        _print_metrics(fields["metrics"], forecasts)
    if table is not None:
        from genamp.study.assess import pair_forecast_of

        pf = fields["pair_forecast"] = pair_forecast_of(table, inputs.n_train)
        _say("differential", f"pair forecast of the mixture: δ = {pf['delta_mixture']:.3g}, n_equiv = {pf['n_equiv']:.3g}, "
                             f"G = {pf['G']:.3g} ({pf['resolved_pairs']} of {pf['pairs']} pairs resolved; docs/formulas.md §3.4)")  # fmt: skip
    if pool is not None and classifier:
        from genamp.study.assess import classifier_check

        c = fields["classifier"] = classifier_check(inputs, list(seen.values()))
        _say("classifier", f"mixture against the pool: AUC {c['auc']:.3f} ± {c['auc_null_std']:.3f} (truth against truth "
                           f"{c['auc_truth_vs_truth']:.3f}); reference form n_equiv ≤ {c['n_equiv_reference']:.3g}, G ≤ "
                           f"{c['G_reference']:.3g} (a classifier sees at most what it learned)")  # fmt: skip
    if results_file is not None:
        write_results(results_file, records, result.warnings, **fields, generation=generation)
        _say("results", str(results_file))
    if plot_dir is not None:
        from genamp.report.plots import assessment_plots

        drawn = assessment_plots(records, plot_dir)
        _say("plots", f"{len(drawn)} in {plot_dir}")
    if report and out_dir is not None:
        from genamp.report.html import write_report

        _say("report", str(write_report(out_dir)))


@app.command()
def report(
    folder: Annotated[Path, typer.Argument(help="A folder of genamp run or genamp assess (it holds results.json).")],
) -> None:
    """Write FOLDER/report.html: one page that works offline and alone, with the tables, every
    plot (embedded), the warnings in words, the advice and the configuration."""
    from genamp.report.html import write_report

    _say("report", str(write_report(folder)))


def _print_metrics(rows: list[dict[str, Any]], forecasts: list[dict[str, Any]]) -> None:
    """Each metric's n_equiv of the members' mixture beside the KS and the quantile ones."""
    table = Table(title="the generated mixture in true events, by metric (against the pool)", title_justify="left")
    for column in ("observable", "metric", "n_equiv", "range", "KS n_equiv", "quantile n_equiv (finest Q)"):
        table.add_column(column, justify="left" if column == "observable" else "right")

    def events(n: float | None, bound: str | None = None) -> str:
        mark = {"upper": "≤ ", "lower": "≥ "}.get(bound or "", "")
        return "–" if n is None or not np.isfinite(n) else f"{mark}{n:.3g}"

    for r in rows:
        quantile = ""
        mine = [f for f in forecasts if f.get("observable") == r["observable"] and f.get("truth_G") is not None]
        if mine:
            finest = max(mine, key=lambda f: f["quantiles"])
            quantile = f"{events(finest['truth_G'] * finest['n_train'])} (Q = {finest['quantiles']})"
        ks = r.get("ks")
        ks_text = "" if ks is None else events(ks["n_equiv"], None if ks["resolved"] else "lower")
        lo, hi = r["n_equiv_range"]
        table.add_row(r["observable"], f"{r['metric']} {r['value']:.3g}", events(r["n_equiv"], r["bound"]),
                      f"{lo:.3g}–{hi:.3g}", ks_text, quantile)  # fmt: skip
    out.print(table)


def _print_uncertainties(binned: list[Any]) -> None:
    """Per observable of a user's binning: how much larger than √N the total uncertainty is."""
    table = Table(title="uncertainty of your histograms' bins (statistical + model) against √N", title_justify="left")
    for column in ("observable", "bins", "events", "total / √N", "model resolved in"):
        table.add_column(column, justify="left" if column == "observable" else "right")
    for b in binned:
        u = b.uncertainties
        inner = slice(1, -1)
        ratio = u.total[inner] / np.where(u.naive[inner] > 0, u.naive[inner], np.nan)
        finite = ratio[np.isfinite(ratio)]
        span = f"{finite.min():.3g}–{finite.max():.3g}" if finite.size else "–"
        table.add_row(b.observable, str(u.fraction.size - 2), f"{u.n_events:.3g}", span,
                      f"{int(u.resolved[inner].sum())} of {u.fraction.size - 2} bins")  # fmt: skip
    out.print(table)


def _write_uncertainties(binned: list[Any], out_dir: Path) -> list[Path]:
    """``uncertainties.csv`` (a row per bin, flows included) and ``uncertainties.root`` (a TH1D
    per observable whose errors are the total), written whole or not at all."""
    import csv
    import io

    import uproot

    from genamp.estimators.histograms import to_hist
    from genamp.study.store import write_text

    rows = [r for b in binned for r in b.rows()]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()} for r in rows)
    write_text(out_dir / "uncertainties.csv", buffer.getvalue())
    tmp = out_dir / ".uncertainties.root.tmp"
    with uproot.recreate(tmp) as f:
        for b in binned:
            f[b.observable.replace(" ", "_")] = to_hist(b.uncertainties, b.edges, b.observable)
    tmp.replace(out_dir / "uncertainties.root")
    return [out_dir / "uncertainties.csv", out_dir / "uncertainties.root"]


data_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Event samples to study: top-pair events from Pythia 8, kept in a cache ($GENAMP_CACHE, else ~/.cache/genamp).",
)
app.add_typer(data_app, name="data")


class _RateColumn(ProgressColumn):
    """Events generated per second in this run (reused chunks do not count)."""

    def render(self, task: Any) -> Text:
        rate = task.fields.get("rate")
        return Text(f"{rate:,.0f} events/s" if rate else "", style="progress.data.speed")


@data_app.command("ttbar")
def data_ttbar(
    level: Annotated[
        str, typer.Option("--level", help="parton: the six quarks of the top decays (fast); jet: six anti-kT R=0.4 jets after shower and hadronisation.")
    ],
    events: Annotated[int, typer.Option("--events", "-n", help="Events in the file (at jet level: events that pass the selection).")],
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="The HDF5 file to write (default: the cache, $GENAMP_CACHE or else ~/.cache/genamp; the path is printed)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="The sample's seed: the same seed and --events give the same file, for any --workers.")] = 1,
    workers: Annotated[int | None, typer.Option("--workers", "-j", help="Worker processes (default: all cores).")] = None,
    cluster: ClusterOpt = None,
    scheduler: SchedulerOpt = None,
    isr: Annotated[bool, typer.Option("--isr/--no-isr", help="Initial-state radiation (default: on, the tops recoil; --no-isr also turns off the primordial kT, so the six quarks balance exactly in pT).")] = True,
    mpi: Annotated[
        bool | None, typer.Option("--mpi/--no-mpi", help="Multi-parton interactions, jet level only (default: on, the underlying event of real collisions; off is ~4x faster).")
    ] = None,
    chunk_events: Annotated[
        int | None,
        typer.Option("--chunk-events", help="Generated events per chunk, the unit of resuming and of the workers (default: 100000 parton, 5000 jet); part of the sample's identity."),
    ] = None,
) -> None:
    """Generate p p -> t tbar (13 TeV, both W -> q qbar') with Pythia 8 into an HDF5 file of shape (events, 6, 4).

    The objects are (b, q1, q2, bbar, q3, q4), each (E, px, py, pz) in GeV. A stopped run resumes where it stopped (the same command); the file is written whole or not at all.
    """
    from genamp.data import cache, ttbar

    address = _cluster_of(cluster, scheduler, workers)
    spec = ttbar.TtbarSpec.make(level, seed, isr, mpi, chunk_events)
    ttbar.check_events(events)
    ttbar.require(level)
    if out_file is None:
        target = cache.cached_ttbar(spec, events)
        if target is not None:
            size = int(ttbar.read_sample(target)["events"])
            if size > events:
                _say("note", f"the cache holds {size} events of these settings; its first {events} are this sample (read events[:{events}])")
            else:
                _say("note", "found in the cache")
            typer.echo(str(target))
            return
        out_file = cache.ttbar_path(spec, events)
    sample = _generate_ttbar(level, events, out_file, seed, isr, mpi, workers, chunk_events, address)
    typer.echo(str(sample.path))


def _generate_ttbar(level: str, events: int, out_file: Path, seed: int, isr: bool, mpi: bool | None,
                    workers: int | None, chunk_events: int | None, cluster: str | None = None) -> Any:  # fmt: skip
    """Generate ``events`` top-pair events of these settings into ``out_file`` with a progress bar
    and notes (resuming a stopped run, taking the whole chunks of a smaller cached sample)."""
    import time

    from genamp.data import cache, ttbar
    from genamp.study.runner import StudyInterrupted

    spec = ttbar.TtbarSpec.make(level, seed, isr, mpi, chunk_events)
    smaller = cache.smaller_ttbar(spec, events)  # its whole chunks are this sample's first ones

    bar = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=True,
    )  # fmt: skip
    handle = bar.add_task(f"{level}-level events", total=events, rate=None)
    generated = [0]

    def progress(new_generated: int, new_selected: int) -> None:
        if not bar.live.is_started:
            bar.start()
        generated[0] += new_generated
        done = bar.tasks[0].completed + new_selected
        bar.update(handle, completed=min(done, events), rate=generated[0] / (time.perf_counter() - start))

    def note(text: str) -> None:
        _say("note", text, console=bar.console)

    start = time.perf_counter()  # the rate counts Pythia's start-up and the workers' too
    try:
        sample = ttbar.generate(level, events, out_file, seed=seed, isr=isr, mpi=mpi, workers=workers,
                                chunk_events=chunk_events, progress=progress, note=note, reuse=[smaller] if smaller else [],
                                cluster=cluster)  # fmt: skip
    except KeyboardInterrupt:
        raise StudyInterrupted(
            f"interrupted; the finished chunks are kept in {ttbar.parts_folder(out_file)}, and the same command resumes from them"
        ) from None
    finally:
        if bar.live.is_started:
            bar.stop()
    if sample.file_reused:
        _say("note", f"{out_file} already holds this sample")
    if sample.chunks_reused:
        _say("note", f"reused {sample.chunks_reused} of {sample.chunks} chunk(s) already made (by a stopped run, or for another size)")
    if generated[0]:
        seconds = time.perf_counter() - start
        beyond = generated[0] - sample.generated  # chunks that ran beside the last one, cut from the sample
        _say("note", f"Pythia generated {generated[0]} events in {seconds:.1f} s ({generated[0] / seconds:,.0f} events/s)"
             + (f", {beyond} of them past the end of the sample (chunks that ran beside its last one)" if beyond > 0 else ""))
    text = f"{sample.events} {level}-level events, sigma = {sample.sigma_pb:.4g} ± {sample.sigma_err_pb:.2g} pb"
    if level == "jet":
        cuts = ", ".join(f"{name.replace('_', ' ')} {eff:.1%}" for name, eff in sample.cut_efficiencies.items())
        text += f", selection efficiency {sample.efficiency:.1%} of {sample.generated} generated ({cuts})"
    _say("note", text)
    return sample


def main(argv: list[str] | None = None) -> int:
    """Entry point: one ``error:`` line for bad input, never a traceback for it."""
    from genamp.study.runner import StudyInterrupted

    try:
        rv = app(args=argv, prog_name="genamp", standalone_mode=False)
    except StudyInterrupted as exc:
        _say("stopped", str(exc))
        return 130
    except GenampError as exc:
        _say("error", str(exc))
        return 2
    except Exception as exc:
        # typer's own usage errors (unknown option, a value that is not a number); typer ships its
        # click privately, so they are recognised by their interface, not their class
        if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
            raise
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # typer has printed the help already
            return 0
        where = f"{ctx.command_path} --help" if ctx is not None else "genamp --help"  # e.g. genamp data ttbar
        _say("error", f"{exc.format_message()}  (see {where})")
        return int(exc.exit_code) or 2
    if rv == 130:
        # typer turns a Ctrl-C outside a study's task loop (reading files, aggregating, plotting)
        # into exit status 130, silently; nothing half-written stays
        _say("stopped", "interrupted; finished tasks are saved, files are written whole or not at all")
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    sys.exit(main())
