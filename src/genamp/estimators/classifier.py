"""The classifier test (docs/formulas.md §4, §3.6): a learned likelihood ratio where the truth is implicit.

A small network ``D(x)`` is trained to tell generated events (label 0) from reference events
(label 1) on one half of each sample; on the other half it gives the AUC, the weights
``w = D/(1 − D) ≈ p_ref/p_gen`` with their effective sample size ``(Σw)²/Σw²``, and the logit
``log w`` as the summary of docs/formulas.md §3.6. Training and test halves are disjoint, so a classifier that
memorises its training events gains nothing on the test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import rankdata

from genamp.errors import GenampError
from genamp.models.neural import MLP, adam, torch_seed
from genamp.seeding import SeedLike, child, rng


def auc(scores_ref: np.ndarray, scores_gen: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a reference event scores above a generated one
    (Mann–Whitney, ties counted half)."""
    a, b = np.asarray(scores_ref, dtype=np.float64), np.asarray(scores_gen, dtype=np.float64)
    ranks = rankdata(np.concatenate([a, b]))
    return float((ranks[: a.size].sum() - a.size * (a.size + 1) / 2) / (a.size * b.size))


def auc_null_std(n_ref: int, n_gen: int) -> float:
    """Standard deviation of the AUC of an uninformative score (Mann–Whitney under the null)."""
    return float(np.sqrt((n_ref + n_gen + 1) / (12.0 * n_ref * n_gen)))


def reweighted_occupancy(cells: np.ndarray, weights: np.ndarray, n_cells: int) -> np.ndarray:
    """Occupancies of events in cells ``cells`` with weights ``w`` (normalised to sum to 1)."""
    counts = np.bincount(np.asarray(cells), weights=np.asarray(weights, dtype=np.float64), minlength=n_cells)
    return counts / counts.sum()


def effective_sample_size(w: np.ndarray) -> float:
    w = np.asarray(w, dtype=np.float64)
    return float(w.sum() ** 2 / np.sum(w**2))


@dataclass(frozen=True)
class ClassifierTest:
    """What a classifier says about a generated sample against a reference, on the test halves."""

    auc: float
    #: AUC spread of an uninformative classifier on the same test sizes
    auc_null_std: float
    #: the logit log w on the test halves: the summary of docs/formulas.md §3.6
    logit_gen: np.ndarray
    logit_ref: np.ndarray
    #: the generated test events, their weights w = D/(1 − D) and their effective sample size
    gen_test: np.ndarray
    weights: np.ndarray
    ess: float


def classifier_test(
    x_gen: np.ndarray, x_ref: np.ndarray, seed: SeedLike, hidden: tuple[int, ...] = (64, 64), steps: int = 600,
    lr: float = 3e-3, batch: int = 256,
) -> ClassifierTest:
    """Train ``D`` on half of each sample, test on the other half (docs/formulas.md §4)."""
    x_gen, x_ref = np.asarray(x_gen, dtype=np.float64), np.asarray(x_ref, dtype=np.float64)
    if x_gen.ndim != 2 or x_ref.ndim != 2 or x_gen.shape[1] != x_ref.shape[1]:
        raise GenampError(f"classifier: samples of shapes {x_gen.shape} and {x_ref.shape} do not match")
    if min(len(x_gen), len(x_ref)) < 20:
        raise GenampError("classifier: at least 20 events per sample are needed (half train, half test)")
    if not (np.isfinite(x_gen).all() and np.isfinite(x_ref).all()):
        raise GenampError("classifier: events contain NaN or inf")
    r = rng(child(seed, 0))
    g, f = r.permutation(len(x_gen)), r.permutation(len(x_ref))
    g_train, g_test = x_gen[g[: len(g) // 2]], x_gen[g[len(g) // 2 :]]
    f_train, f_test = x_ref[f[: len(f) // 2]], x_ref[f[len(f) // 2 :]]
    mean, std = f_train.mean(axis=0), f_train.std(axis=0) + 1e-12
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed(child(seed, 1)))
        net = MLP(x_gen.shape[1], 1, hidden, torch.nn.SiLU).double()
        x = torch.from_numpy((np.concatenate([g_train, f_train]) - mean) / std)
        y = torch.cat([torch.zeros(len(g_train)), torch.ones(len(f_train))]).double()
        # each class weighs half, whatever the sizes: the logit then estimates log p_ref/p_gen
        w = torch.cat([torch.full((len(g_train),), 0.5 / len(g_train)), torch.full((len(f_train),), 0.5 / len(f_train))])
        opt = adam(list(net.parameters()), lr)
        loss_fn = torch.nn.functional.binary_cross_entropy_with_logits
        for _ in range(steps):
            idx = torch.multinomial(w, min(batch, len(x)), replacement=True)
            opt.zero_grad()
            loss_fn(net(x[idx])[:, 0], y[idx]).backward()
            opt.step()
        with torch.no_grad():
            lg = net(torch.from_numpy((g_test - mean) / std))[:, 0].numpy()
            lf = net(torch.from_numpy((f_test - mean) / std))[:, 0].numpy()
    weights = np.exp(np.clip(lg, -30, 30))
    return ClassifierTest(auc(lf, lg), auc_null_std(len(lf), len(lg)), lg, lf, g_test, weights, effective_sample_size(weights))
