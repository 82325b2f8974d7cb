"""One HTML file that tells what a study or an assessment found: ``genamp report DIR``.

The page is written from the folder's ``results.json`` (and ``uncertainties.csv`` where
``genamp assess --binning`` wrote one) and works offline and alone: every figure of the folder
(``*.png``, also in ``bins/`` and ``mse/``) is embedded as a data URI, the style is inline, and
there is no script. It presents what the records say and decides nothing: the advice of how
many events to generate, the warnings in words, a table per method (truth-based G, the averaging
forecast beside its truth and its falsification, the differential forecast and its check, the
metrics in events, the uncertainty of a user's histogram bins), every plot, and the
configuration that reproduces it.

    from genamp.report.html import write_report
    write_report("runs/camel")            # runs/camel/report.html
"""

from __future__ import annotations

import base64
import csv
import html
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genamp.errors import GenampError

__all__ = ["REPORT", "render", "write_report"]

#: the report's file name inside the folder
REPORT = "report.html"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .9em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; }
.warn { background: #fff6e0; border-left: 4px solid #e0a000; padding: .3em .8em; margin: .3em 0; }
.advice { background: #e8f4ff; border-left: 4px solid #2a7ae2; padding: .3em .8em; margin: .3em 0; }
.bad { color: #b00020; font-weight: bold; }
figure { display: inline-block; margin: .5em; vertical-align: top; } figure img { max-width: 34em; }
figcaption { font-size: .85em; color: #555; } pre { background: #f7f7f7; padding: .8em; overflow-x: auto; }
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _num(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    return f"{float(x):.{digits}g}"


def _pm(value: Any, error: Any) -> str:
    return _num(value) if error is None else f"{_num(value)} ± {_num(error, 2)}"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], left: int = 1) -> str:
    """An HTML table; the first ``left`` columns align left (names), the rest right (numbers)."""
    head = "".join(f'<th class="{"l" if i < left else ""}">{_e(h)}</th>' for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{cell}</td>' for i, cell in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _where(rec: dict[str, Any]) -> str:
    return _e(rec.get("observable") or rec.get("density") or "")


def _truth_rows(records: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for r in records:
        g = _pm(r.get("G"), r.get("G_std")) if r.get("resolved") else f"≥ {_num((r.get('n_equiv_lower') or 0) / r['n_train'])}"
        n = _num(r.get("n_equiv")) if r.get("resolved") else f"≥ {_num(r.get('n_equiv_lower'))}"
        rows.append([_e(r["model"]), _where(r), _e(r.get("quantiles")), g, n, _num(r.get("n_gen_90"))])
    return rows


def _averaging_rows(records: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for r in records:
        falsified = r.get("falsified")
        verdict = "–" if falsified is None else (f'<span class="bad">falsified (p = {_num(r.get("falsification_p"), 2)})</span>'
                                                  if falsified else f"passes (p = {_num(r.get('falsification_p'), 2)})")  # fmt: skip
        forecast = _pm(r.get("G_inf"), r.get("G_inf_std")) if r.get("G_inf") is not None else \
            f"≥ {_num((r.get('one_training') or {}).get('G_inf_lower'))}"  # fmt: skip
        rows.append([_e(r["model"]), _where(r), _e(r.get("quantiles")), forecast, _pm(r.get("truth_G"), r.get("truth_G_std")),
                     verdict, _num(r.get("n_equiv_reach")), _num(r.get("n_gen_90"))])  # fmt: skip
    return rows


def _differential_rows(records: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for r in records:
        part = lambda key: r.get(key) or {}  # noqa: E731
        clf = part("classifier")
        rows.append([_e(r["model"]), _pm(part("forecast").get("G"), part("forecast").get("G_std")),
                     _pm(part("truth").get("G"), part("truth").get("G_std")), _e(r.get("truth_check", "likelihood")),
                     _num(clf.get("auc")), _num(clf.get("auc_truth_vs_truth"))])  # fmt: skip
    return rows


def _metric_rows(metrics: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for m in metrics:
        mark = {"upper": "≤ ", "lower": "≥ "}.get(m.get("bound") or "", "")
        lo, hi = m["n_equiv_range"]
        ks = m.get("ks") or {}
        rows.append([_e(m["observable"]), _e(m["metric"]), _num(m["value"]), mark + _num(m["n_equiv"]), f"{_num(lo)}–{_num(hi)}",
                     _num(ks.get("n_equiv")) if ks else "–"])  # fmt: skip
    return rows


def _uncertainty_rows(path: Path) -> list[list[str]]:
    with path.open() as fh:
        return [[_e(r["observable"]), _e(r["low"]), _e(r["high"]), _e(r["count"]), _e(r["stat"]), _e(r["model"]),
                 _e(r["total"]), _e(r["total_over_naive"])] for r in csv.DictReader(fh)]  # fmt: skip


def _figures(folder: Path) -> list[str]:
    out = []
    for png in sorted(folder.glob("*.png")) + sorted(folder.glob("*/*.png")):
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        name = png.relative_to(folder).as_posix()
        out.append(f'<figure><img src="data:image/png;base64,{data}" alt="{_e(name)}"><figcaption>{_e(name)}</figcaption></figure>')
    return out


def render(folder: Path | str) -> str:
    """The report of ``folder`` (which holds a ``results.json``) as one HTML document."""
    folder = Path(folder)
    path = folder / "results.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise GenampError(f"{folder}: no results.json; run genamp run or genamp assess with --out {folder} first") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise GenampError(f"{path}: cannot be read as JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise GenampError(f"{path}: not a genamp results file (it has no records)")
    records = data["records"]
    by = {m: [r for r in records if r.get("method") == m] for m in ("truth", "averaging", "differential")}
    parts = ["<h1>genamp: how many true events the generated sample is worth</h1>",
             f"<p>{_e(folder.resolve().name)}: genamp {_e(data.get('genamp', '?'))}, results format {_e(data.get('schema_version', '?'))}, "
             f"{len(records)} records.</p>"]  # fmt: skip
    parts.append('<section id="summary"><h2>Summary</h2>')
    advice = data.get("generation") or {}
    parts += [f'<p class="advice"><b>{_e(model)}</b>: {_e(a.get("advice", ""))}</p>' for model, a in advice.items()]
    if not advice:
        parts.append("<p>No advice of how many events to generate: no record resolved an n_equiv.</p>")
    parts.append("</section>")
    general = list(dict.fromkeys(data.get("warnings", [])))
    per_record = list(dict.fromkeys(f"{r.get('model')} {r.get('observable') or r.get('density') or ''} Q = {r.get('quantiles')}: {w}"
                                    for r in records for w in r.get("warnings", []) if w not in general))  # fmt: skip
    parts.append('<section id="warnings"><h2>Warnings</h2>')
    parts += [f'<p class="warn">{_e(w)}</p>' for w in general]
    if per_record:  # one line per record and warning: folded, a click away (no script: HTML's own details)
        parts.append(f"<details><summary>{len(per_record)} warnings of single records (observable, Q)</summary>"
                     + "".join(f'<p class="warn">{_e(w)}</p>' for w in per_record) + "</details>")  # fmt: skip
    if not general and not per_record:
        parts.append("<p>None.</p>")
    parts.append("</section>")
    if by["truth"]:
        parts.append('<section id="truth"><h2>Truth-based amplification G = n_equiv / n_train</h2>')
        parts.append(_table(["model", "truth / observable", "Q", "G", "n_equiv", "n_gen_90"], _truth_rows(by["truth"]), left=2))
        parts.append("</section>")
    if by["averaging"]:
        parts.append('<section id="averaging"><h2>Averaging forecast G∞ beside the truth of the same mixture</h2>')
        parts.append(_table(["model", "observable", "Q", "forecast G∞", "truth G", "holdout", "reach (events)", "n_gen_90"],
                            _averaging_rows(by["averaging"]), left=2))  # fmt: skip
        parts.append("</section>")
    if by["differential"]:
        parts.append('<section id="differential"><h2>Differential amplification</h2>')
        parts.append(_table(["model", "forecast G", "truth check G", "check", "classifier AUC", "truth vs truth"],
                            _differential_rows(by["differential"])))  # fmt: skip
        parts.append("</section>")
    pf, clf = data.get("pair_forecast"), data.get("classifier")
    if pf or clf:
        parts.append('<section id="whole-event"><h2>The whole event: pair forecast and classifier</h2>')
        rows = []
        if pf:
            rows.append(["pair forecast (members' likelihood ratios)", _num(pf.get("delta_mixture")), _num(pf.get("n_equiv")),
                         _num(pf.get("G")), f"{pf.get('resolved_pairs')} of {pf.get('pairs')} pairs resolved"])  # fmt: skip
        if clf:
            rows.append(["classifier against the pool (an upper bound)", f"AUC {_num(clf.get('auc'))} ± {_num(clf.get('auc_null_std'), 2)}",
                         "≤ " + _num(clf.get("n_equiv_reference")), "≤ " + _num(clf.get("G_reference")),
                         f"truth vs truth AUC {_num(clf.get('auc_truth_vs_truth'))}"])  # fmt: skip
        parts.append(_table(["check", "distance", "n_equiv", "G", "note"], rows))
        parts.append("</section>")
    if data.get("metrics"):
        parts.append('<section id="metrics"><h2>Metrics in events</h2>')
        parts.append(_table(["observable", "metric", "value", "n_equiv", "range", "KS n_equiv"], _metric_rows(data["metrics"]), left=2))
        parts.append("</section>")
    table = folder / "uncertainties.csv"
    if table.is_file():
        parts.append('<section id="histograms"><h2>Uncertainty of your histograms\' bins</h2>')
        parts.append(_table(["observable", "low", "high", "count", "stat", "model", "total", "total / √N"], _uncertainty_rows(table)))
        parts.append("</section>")
    figures = _figures(folder)
    if figures:
        parts.append('<section id="plots"><h2>Plots</h2>' + "".join(figures) + "</section>")
    config = {k: v for k, v in data.items() if k not in ("records", "warnings", "generation", "metrics", "pair_forecast", "classifier")}
    parts.append('<section id="configuration"><h2>Configuration</h2><pre>' + _e(json.dumps(config, indent=1, default=str)) + "</pre></section>")
    title = f"genamp report: {folder.resolve().name}"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>")  # fmt: skip


def write_report(folder: Path | str) -> Path:
    """Write ``folder/report.html`` (whole or not at all) and return its path."""
    from genamp.study.store import write_text

    folder = Path(folder)
    out = folder / REPORT
    write_text(out, render(folder))
    return out
