"""What a Bayesian network's posterior costs against a bootstrap ensemble (issue 17 item 3).

One repetition's generators, in one process on one thread: a bootstrap ensemble of flow matching
(K members trained as one vectorised model) against Bayesian flow matching (one training to the
mode, then a Langevin chain; M kept states), each followed by its K (or M) generators sampling
``n_gen`` events. Prints the seconds of each part and the ratios.

    python benchmarks/bayesian_cost.py                       # ring, n_train 100, K = M = 10, chain 20 000 at T = 0.03
    python benchmarks/bayesian_cost.py --density camel --n-train 1000 --chain 20000
"""

from __future__ import annotations

import argparse
import time

import torch

from genamp.densities import make_density
from genamp.models.bayesian import BayesianFlowMatching
from genamp.models.cfm import FlowMatching
from genamp.models.ensemble import Ensemble


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--density", default="ring")
    parser.add_argument("--n-train", type=int, default=100)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--chain", type=int, default=20_000)
    parser.add_argument("--temperature", type=float, default=0.03)
    parser.add_argument("--n-gen", type=int, default=30_000)
    a = parser.parse_args()
    torch.set_num_threads(1)
    density = make_density(a.density)
    x = density.sample(a.n_train, 1)

    def timed(what: str, f):  # noqa: ANN001, ANN202
        start = time.perf_counter()
        out = f()
        seconds = time.perf_counter() - start
        print(f"{what}: {seconds:.1f} s", flush=True)
        return out, seconds

    ensemble, t_boot = timed(f"bootstrap cfm × {a.members}: training", lambda: Ensemble(FlowMatching(), a.members, "bootstrap").fit(x, 2))
    _, s_boot = timed(f"  sampling {a.members} × {a.n_gen}", lambda: [g.sample(a.n_gen, k) for k, g in enumerate(ensemble.members())])
    steps = 0 if a.n_train <= 100 else FlowMatching().budget(a.n_train)
    bayes = BayesianFlowMatching(chain=a.chain, temperature=a.temperature, steps=steps or 2000)
    model, t_mode = timed(f"bcfm: training to the mode ({steps or 2000} steps)", lambda: BayesianFlowMatching(steps=steps or 2000, chain=2, chain_keep=1).fit(x, 3))
    model, t_bayes = timed(f"bcfm: training and a chain of {a.chain}", lambda: bayes.fit(x, 3))
    _, s_bayes = timed(f"  sampling {a.members} × {a.n_gen}", lambda: [g.sample(a.n_gen, k) for k, g in enumerate(model.draws(a.members, 0))])
    print(f"chain alone ≈ {t_bayes - t_mode:.1f} s (acceptance {model.chain_.acceptance:.2f})")
    print(f"training: bcfm / bootstrap = {t_bayes / t_boot:.2f}; with sampling: {(t_bayes + s_bayes) / (t_boot + s_boot):.2f}")


if __name__ == "__main__":
    main()
