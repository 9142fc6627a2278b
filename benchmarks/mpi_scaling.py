"""Strong and weak scaling of data-parallel training over MPI ranks.

Each measurement launches ``mpiexec -n K`` on this script, which trains a
(100, 4) network for a few full-batch Adam epochs on N collocation points and
N/8 sensors, and reports the median wall time of an epoch (rank 0's metrics).

- strong scaling: N fixed, K = 1, 2, 4, ...; efficiency = t_1 / (K t_K);
- weak scaling: N/K fixed per rank; efficiency = t_1 / t_K.

Ranks above the CPUs of the machine are skipped. Threads per rank default to 1
(``--threads``), so ranks x threads <= cores.

    python benchmarks/mpi_scaling.py                        # N = 16384 and 65536, up to all CPUs
    python benchmarks/mpi_scaling.py --ranks 1 2 4 8 16 --threads 1
    python benchmarks/mpi_scaling.py --ranks 1 2 4 8 --threads 2   # mixed ranks x threads
"""

import argparse
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np


def one(N, threads, epochs):
    from pinnlite import Config, Trainer, TrainingData
    from pinnlite.training import distributed
    from pinnlite.training.progress import Progress

    comm = distributed.world()
    rng = np.random.default_rng(0)
    data = TrainingData(domain=((0, 1), (0, 1), (0, 1)), sensor_points=rng.uniform(0, 1, (N // 8, 3)),
                        sensor_values=rng.standard_normal((N // 8, 2)))
    cfg = Config()
    cfg.architecture.hidden = [100] * 4
    cfg.sampling.n_collocation = N
    cfg.training.epochs = epochs
    cfg.training.threads = threads
    tr = Trainer(None, cfg, progress=Progress(epochs, stream=io.StringIO()), comm=comm)
    tr.train(data)
    if comm.Get_rank() == 0:
        t = np.diff(tr.metrics["time"])[1:]  # skip the first epochs (compilation, allocation)
        print(json.dumps({"epoch_s": float(np.median(t)), "ranks": comm.Get_size()}))


def run(K, N, threads, epochs):
    mpiexec = shutil.which("mpiexec") or shutil.which("mpiexec", path=os.path.dirname(sys.executable))
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([mpiexec, "-n", str(K), sys.executable, __file__, "--one", str(N), str(threads), str(epochs)],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["epoch_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ranks", nargs="*", type=int, default=None)
    ap.add_argument("--sizes", nargs="*", type=int, default=[16384, 65536])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        one(int(args.one[0]), int(args.one[1]), int(args.one[2]))
        return
    cpus = os.cpu_count()
    ranks = args.ranks or [k for k in (1, 2, 4, 8, 16) if k * args.threads <= cpus]
    print(f"machine: {cpus} CPUs; {args.threads} thread(s) per rank; median epoch time over {args.epochs - 2} epochs")
    print(f"{'mode':>6} {'N':>7} {'ranks':>5} {'epoch s':>9} {'speed-up':>8} {'efficiency':>10}")
    for N in args.sizes:
        base = None
        for K in ranks:
            if K * args.threads > cpus:
                print(f"{'strong':>6} {N:>7} {K:>5}  skipped: {K} x {args.threads} > {cpus} CPUs")
                continue
            t = run(K, N, args.threads, args.epochs)
            if base is None:
                base = t * K  # the one-rank time (extrapolated if the first K is not 1)
            print(f"{'strong':>6} {N:>7} {K:>5} {t:9.3f} {base / t:8.2f} {base / t / K:10.2f}")
    for N in args.sizes[:1]:
        base = None
        for K in ranks:
            if K * args.threads > cpus:
                continue
            t = run(K, N * K, args.threads, args.epochs)
            base = base or t
            print(f"{'weak':>6} {N * K:>7} {K:>5} {t:9.3f} {'':>8} {base / t:10.2f}")


if __name__ == "__main__":
    main()
