"""G against n_train from several studies (issue 14's plot): one study per training size.

    python scripts/g_vs_n_train.py runs/ring-n100 runs/ring-n1000 runs/ring-n10000 --out g_vs_n_train.png
    python scripts/g_vs_n_train.py runs/tt-1e3 runs/tt-1e4 --observables t_m,Wp_m,t_eta --out tt.png

Each folder's results.json gives its records; the plot shows, per observable (a toy is one),
the truth-based G and the averaging forecast of every model and resolution against n_train.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from genamp.report.plots import plot_g_vs_n_train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("studies", nargs="+", type=Path)
    parser.add_argument("--observables", default=None, help="comma-separated observables (default: all)")
    parser.add_argument("--quantiles", "-q", type=int, default=None, help="the resolution shown (default: the middle one)")
    parser.add_argument("--out", type=Path, default=Path("g_vs_n_train.png"))
    args = parser.parse_args()
    records = []
    for folder in args.studies:
        path = folder / "results.json" if folder.is_dir() else folder
        records += json.loads(path.read_text())["records"]
    observables = args.observables.split(",") if args.observables else None
    print(plot_g_vs_n_train(records, args.out, observables, args.quantiles))


if __name__ == "__main__":
    main()
