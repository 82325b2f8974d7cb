"""The W and top candidate masses of top-pair samples, parton level beside jet level (README plot).

Reads files written by ``genamp data ttbar`` (h5py; the layout (events, 6, 4) of
(b, q1, q2, bbar, q3, q4) in (E, px, py, pz)), prints each sample's median candidate masses and
draws them into one PNG: m(q1 q2), m(q3 q4) and m(b q1 q2), m(bbar q3 q4), both candidates of
an event filled into one histogram.

    genamp data ttbar --level parton --events 20000 --out parton.h5
    genamp data ttbar --level jet --events 3000 --out jet.h5
    genamp data ttbar --level jet --events 3000 --no-mpi --out jet-nompi.h5
    python scripts/ttbar_masses.py parton.h5 jet.h5 jet-nompi.h5 --out docs/ttbar_masses.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import h5py
import numpy as np


def mass(p: np.ndarray) -> np.ndarray:
    m2 = p[..., 0] ** 2 - p[..., 1] ** 2 - p[..., 2] ** 2 - p[..., 3] ** 2
    return np.sqrt(np.maximum(m2, 0.0))


def candidates(path: Path) -> tuple[str, np.ndarray, np.ndarray]:
    with h5py.File(path, "r") as f:
        events, attrs = f["events"][:], dict(f.attrs)
    label = f"{attrs['level']} level" + ("" if attrs["level"] == "parton" else (", MPI" if attrs["mpi"] else ", no MPI"))
    w = np.concatenate([mass(events[:, 1:3].sum(axis=1)), mass(events[:, 4:6].sum(axis=1))])
    top = np.concatenate([mass(events[:, 0:3].sum(axis=1)), mass(events[:, 3:6].sum(axis=1))])
    eff = float(attrs["efficiency"])
    print(f"{path}: {label}, {len(events)} events (efficiency {eff:.1%}): median m_W {np.median(w):.1f} GeV, "
          f"median m_t {np.median(top):.1f} GeV")  # fmt: skip
    return f"{label} ({len(events)} events)", w, top


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("ttbar_masses.png"))
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_w, ax_t) = plt.subplots(1, 2, figsize=(9, 3.4))
    for path in args.files:
        label, w, top = candidates(path)
        ax_w.hist(w, bins=np.linspace(20, 140, 61), density=True, histtype="step", label=label)
        ax_t.hist(top, bins=np.linspace(80, 260, 61), density=True, histtype="step", label=label)
    ax_w.set_xlabel(r"$m(q_1 q_2)$, $m(q_3 q_4)$ [GeV]")
    ax_t.set_xlabel(r"$m(b q_1 q_2)$, $m(\bar b q_3 q_4)$ [GeV]")
    for ax in (ax_w, ax_t):
        ax.set_yscale("log")
        ax.set_ylabel("density")
    ax_t.legend(fontsize=7, loc="upper right")
    fig.suptitle(r"$pp \to t\bar t$, 13 TeV, W and top candidates (genamp data ttbar)", fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out, dpi=90)
    print(f"plot: {args.out}")


if __name__ == "__main__":
    main()
