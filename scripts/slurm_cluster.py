"""Dask workers as Slurm jobs (dask-jobqueue), for ``genamp run ... --scheduler ADDRESS``.

Run it on a login node with genamp's virtual environment active (``pip install -e ".[jobqueue]"``),
leave it running, and give the address it prints to genamp from another shell:

    python scripts/slurm_cluster.py --jobs 50 --partition standard --account myproject
    genamp run ttbar --level parton -K 10 -r 100 --scheduler tcp://10.1.2.3:8786

Each job is one worker process with one thread (a network trains on one core, as in the local
pool) and ``--memory`` of memory; workers come and go with their jobs, and a task of a job that
ends (its walltime, a preemption) is given to another worker. The workers need genamp's
environment at the same path (``--venv``, on a shared file system, as usual on a cluster) but
not the study folder: they send their results to genamp, which writes them.

``--dry-run`` prints the job script and stops (no job is submitted).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=10, help="worker jobs to keep running")
    parser.add_argument("--partition", default=None, help="Slurm partition (#SBATCH -p)")
    parser.add_argument("--account", default=None, help="Slurm account (#SBATCH -A)")
    parser.add_argument("--memory", default="4GB", help="memory of each job (a top-pair task of K = 10 needs about 2 GB)")
    parser.add_argument("--walltime", default="04:00:00", help="each job's walltime")
    parser.add_argument("--venv", default=str(Path(sys.prefix)), help="genamp's virtual environment on the nodes")
    parser.add_argument("--interface", default=None, help="network interface the workers and scheduler talk on (ib0, eth0)")
    parser.add_argument("--dry-run", action="store_true", help="print the job script and stop")
    a = parser.parse_args()
    from dask_jobqueue import SLURMCluster

    cluster = SLURMCluster(
        cores=1, processes=1, memory=a.memory, walltime=a.walltime, queue=a.partition, account=a.account,
        interface=a.interface, job_name="genamp-worker",
        # genamp's environment on the node, the thread limits of the local pool, and no
        # statistical profiler interrupting the training loops every 10 ms
        job_script_prologue=[f"source {a.venv}/bin/activate", "export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1",
                             "export DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False"],
    )  # fmt: skip
    if a.dry_run:
        print(cluster.job_script())
        cluster.close()
        return
    cluster.scale(jobs=a.jobs)
    print(f"scheduler: {cluster.scheduler_address}", flush=True)
    print(f"run genamp with  --scheduler {cluster.scheduler_address}; Ctrl-C here cancels the worker jobs", flush=True)
    try:
        input()
    except (KeyboardInterrupt, EOFError):
        pass
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
