"""``python -m benchmarks._fresh_run REPS K OUT``: Flatiron replicates on a pool of K workers in
a new process, as ``reawaken power simulate`` runs them (the fork server starts with the pool
and imports :data:`reawaken.processes.PRELOAD`). Prints one JSON line: seconds to import
reawaken in this process, wall seconds from the pool's creation to the last replicate, and the
workers' and fork server's CPU, waits for a CPU and minor page faults (``/proc``); the table
goes to OUT (parquet). Run by ``test_bench_throughput``; not part of the package."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(reps: int, k: int, out: Path) -> dict[str, float]:
    t0 = time.perf_counter()
    from reawaken.evaluate import run_replicates
    from reawaken.processes import process_pool
    from reawaken.scenario import load_scenario

    from ._timing import proc_stats

    imported = time.perf_counter() - t0
    scenario = load_scenario("flatiron_lung_mets")
    t1 = time.perf_counter()
    with process_pool(k) as pool:
        run_replicates(scenario, reps=reps, seed=7, executor=pool, workers=k, out=out)
        wall = time.perf_counter() - t1
        workers = list(pool._processes)
        cpu, wait, faults = sum(proc_stats(p) for p in workers)
        parent = int(Path(f"/proc/{workers[0]}/stat").read_text().rsplit(")", 1)[1].split()[1])
        server = proc_stats(parent)  # the fork server (the main process under spawn)
    return {
        "import": imported,
        "wall": wall,
        "cpu": float(cpu),
        "wait": float(wait),
        "faults": float(faults),
        "server_cpu": float(server[0]),
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))))
