"""The differential method in a study: what one repetition's generators measure, and the record.

Per repetition (inside its task, while the trained generators exist), with ``n`` events drawn
from each of the K generators and ``n`` from the truth:

- the K×K table ``log p_j`` at generator i's events gives the pair forecast (docs/formulas.md §3.4);
- ``s = log p_gen − log p_true`` against a truth sample gives each member's and the mixture's
  distance from the truth (§3.5), the mixture's KS at growing sample sizes, and its local
  profile (§3.7);
- a classifier between the mixture's events and a second truth sample gives the AUC, the
  weights and the reference form of §3.6 (the truth implicit); a classifier between two truth
  samples is the sanity check (AUC ≈ 0.5).

Only arrays are kept (in the task file), so a stopped study resumes without retraining.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genamp.densities import Density
from genamp.estimators.classifier import classifier_test, reweighted_occupancy
from genamp.estimators.differential import (
    KAPPA,
    distance,
    ks_statistic,
    mixture_log_prob,
    pair_forecast,
    profile,
    reference_distance,
)
from genamp.seeding import child

#: bins of log10 w for the weight histogram
WEIGHT_BINS = np.linspace(-2.0, 2.0, 41)


#: events of the mixture kept per repetition with their local G, for the map onto events
MAPPED_EVENTS = 4000


def measure(
    generators: list[Any], density: Density, seed: np.random.SeedSequence, events: int, grids: list[Any] = ()
) -> dict[str, np.ndarray]:
    """The differential arrays of one repetition's K generators (each with ``sample``, ``log_prob``).

    With ``grids``, the classifier's weights also reweight the generated test events' occupancies.
    """
    k = len(generators)
    samples = [g.sample(events, child(seed, 0, m)) for m, g in enumerate(generators)]
    truth = density.sample(events, child(seed, 1))
    table = [[g.log_prob(x) for g in generators] for x in samples]
    out: dict[str, np.ndarray] = {}
    if k > 1:
        pairs = pair_forecast(table, seed=0)
        out["pairs"] = pairs.delta
        out["pairs_resolved"] = np.array(pairs.resolved_pairs / (k * (k - 1) / 2))
    truth_lp = density.log_prob(truth)
    truth_on_samples = [density.log_prob(x) for x in samples]
    members_on_truth = np.stack([g.log_prob(truth) for g in generators])
    per_member = [distance(table[m][m] - truth_on_samples[m], members_on_truth[m] - truth_lp) for m in range(k)]
    out["members"] = np.array([[d.ks, d.delta, d.resolved] for d in per_member])
    # the mixture: an equal share of events from each generator, its density the members' mean
    mix_x = np.concatenate(samples)
    mix_s = mixture_log_prob(np.concatenate([np.stack(row) for row in table], axis=1)) - np.concatenate(truth_on_samples)
    truth_s = mixture_log_prob(members_on_truth) - truth_lp
    mix = distance(mix_s, truth_s)
    out["mixture"] = np.array([mix.ks, mix.delta, mix.resolved, mix.null_mean, mix.null_q95, mix.y])
    order = np.random.default_rng(0).permutation(mix_s.size)
    sizes = np.unique(np.geomspace(50, mix_s.size, 8).astype(int))
    out["curve"] = np.array([[n, ks_statistic(mix_s[order[:n]], truth_s)[0]] for n in sizes])
    prof = profile(mix_s, truth_s)
    out["profile"] = np.stack([prof.y, prof.f_gen, prof.f_ref, prof.n_equiv])
    # the profile mapped back onto events: each kept event carries the local n_equiv of its y
    keep = order[:MAPPED_EVENTS]
    out["mapped_events"] = mix_x[keep]
    out["mapped_n_equiv"] = np.interp(mix_s[keep], prof.y, np.where(np.isfinite(prof.n_equiv), prof.n_equiv, 1e12))
    # the classifier: the truth only through a second sample, as on data
    reference = density.sample(2 * events, child(seed, 2))
    clf = classifier_test(mix_x, reference, child(seed, 3))
    ref = reference_distance(clf.logit_gen, clf.logit_ref)
    sanity = classifier_test(truth, reference[:events], child(seed, 4))
    out["classifier"] = np.array([clf.auc, clf.auc_null_std, clf.ess / clf.weights.size, ref.ks, ref.n_equiv,
                                  ref.resolved, ref.reference, sanity.auc, sanity.auc_null_std])  # fmt: skip
    out["weights"] = np.histogram(np.log10(np.maximum(clf.weights, 1e-300)), WEIGHT_BINS)[0]
    # reweighted occupancies: quantile MSE of the generated test events against the exact cells,
    # before and after weighting, beside c/n for a true sample of n = ESS events
    rows = []
    for grid in grids:
        cells = grid.cell_index(clf.gen_test)
        p = grid.probabilities
        plain = reweighted_occupancy(cells, np.ones(cells.size), grid.n_cells)
        weighted = reweighted_occupancy(cells, clf.weights, grid.n_cells)
        rows.append([grid.quantiles if isinstance(grid.quantiles, int) else grid.shape[0],
                     np.mean((plain - p) ** 2), np.mean((weighted - p) ** 2), np.mean(p * (1 - p)) / clf.ess, cells.size])  # fmt: skip
    if rows:
        out["reweighted"] = np.array(rows)
    return out


def _g(n_equiv: float, n_train: int) -> float | None:
    return float(n_equiv / n_train) if np.isfinite(n_equiv) else None


def record(arrays: list[dict[str, np.ndarray]], n_members: int, n_train: int, events: int) -> dict[str, Any]:
    """The differential record of R repetitions: forecast, truth check, classifier (docs/formulas.md §3, §4).

    ``n_equiv = (κ/mean δ)²``: a true sample of n events sits κ/sqrt(n) from the truth *on
    average*, so the mean distance over repetitions converts, not each repetition's own.
    """
    r = len(arrays)
    out: dict[str, Any] = {"members": n_members, "repetitions": r}

    def summary(deltas: np.ndarray) -> dict[str, Any]:
        deltas = np.asarray(deltas, dtype=np.float64)
        mean = float(deltas.mean())
        err = float(deltas.std(ddof=1) / np.sqrt(r)) if r > 1 else np.nan
        n_equiv = (KAPPA / mean) ** 2 if mean > 0 else np.inf
        lo, hi = np.percentile(deltas, [84.0, 16.0])
        return {
            "delta": mean,
            "delta_std": err,
            "n_equiv": n_equiv,
            "G": _g(n_equiv, n_train),
            # δ enters squared and inverted: the relative error of G is twice that of δ
            "G_std": _g(n_equiv, n_train) * 2 * err / mean if (mean > 0 and r > 1) else None,
            "G_spread": [_g((KAPPA / lo) ** 2, n_train), _g((KAPPA / hi) ** 2, n_train) if hi > 0 else None],
        }

    if n_members > 1 and all("pairs" in a for a in arrays):
        member = np.array([np.sqrt(np.nanmean(a["pairs"] ** 2)) for a in arrays])
        out["forecast_member"] = summary(member)
        out["forecast"] = summary(np.sqrt((1 + 1 / n_members) / 2) * member)
        # pairs within the KS null enter with their upper bound: the forecast G is then a lower bound
        resolved = np.mean([a["pairs_resolved"] for a in arrays if "pairs_resolved" in a]) if arrays else np.nan
        out["forecast"]["pairs_resolved_fraction"] = float(resolved)
    out["truth_member"] = summary(np.array([a["members"][:, 1].mean() for a in arrays]))
    out["truth"] = summary(np.array([a["mixture"][1] for a in arrays]))
    out["truth_resolved_fraction"] = float(np.mean([a["mixture"][2] for a in arrays]))
    curve = np.stack([a["curve"] for a in arrays])
    out["curve"] = {"n": curve[0, :, 0].tolist(), "ks_mean": curve[:, :, 1].mean(axis=0).tolist(),
                    "ks_std": curve[:, :, 1].std(axis=0).tolist(), "n_truth": events}  # fmt: skip
    prof = arrays[0]["profile"]
    out["profile"] = {"y": prof[0].tolist(), "f_gen": prof[1].tolist(), "f_ref": prof[2].tolist(),
                      "G": [_g(v, n_train) for v in prof[3]]}  # fmt: skip
    clf = np.stack([a["classifier"] for a in arrays])
    out["classifier"] = {
        "auc": float(clf[:, 0].mean()),
        "auc_std": float(clf[:, 0].std(ddof=1)) if r > 1 else None,
        "auc_null_std": float(clf[0, 1]),
        "ess_fraction": float(clf[:, 2].mean()),
        "n_equiv_reference": float(np.median(clf[:, 4])),
        "resolved_fraction": float(clf[:, 5].mean()),
        "reference_events": float(clf[0, 6]),
        "auc_truth_vs_truth": float(clf[:, 7].mean()),
        "weight_bins": WEIGHT_BINS.tolist(),
        "weight_counts": np.sum([a["weights"] for a in arrays], axis=0).tolist(),
    }
    if all("reweighted" in a for a in arrays):
        rw = np.stack([a["reweighted"] for a in arrays])
        out["classifier"]["reweighted"] = [
            {"quantiles": int(rw[0, i, 0]), "mse": float(rw[:, i, 1].mean()), "mse_reweighted": float(rw[:, i, 2].mean()),
             "mse_true_sample_of_ess": float(rw[:, i, 3].mean()), "events": int(rw[0, i, 4])}
            for i in range(rw.shape[1])
        ]  # fmt: skip
    return out
