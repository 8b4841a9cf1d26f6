"""Benchmark: W₂ between two particle clouds — exact (POT emd2) against the debiased Sinkhorn
divergence (POT sinkhorn_log with ε-scaling), and the 1-D quantile formula.

    python benchmarks/bench_transport.py                    # N = 1000
    python benchmarks/bench_transport.py --N 1000 10000     # N = 10⁴ needs ~4 GB and minutes

Data: two Gaussian clouds in d dimensions (float64, seed 0), N points each,
μ = N(0, I), ν = N(0.5·1, 1.3²·I); ε for Sinkhorn given as a fraction of the squared
diagonal D² of the box holding both clouds (default 0.05², the module's default).
Prints, per N: the time of each method (solves per second), the value, and for Sinkhorn
the relative difference from the exact W₂² (its bias at that ε) and the iterations.
The machine (CPU count, load) is printed with the results; record them with the numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402

from mfderive.simulate.transport import w2, w2_1d  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--N", type=int, nargs="+", default=[1000])
    ap.add_argument("--d", type=int, default=2)
    ap.add_argument("--blur", type=float, default=0.05, help="ε = (blur·D)²")
    ap.add_argument("--skip-exact-above", type=int, default=20000)
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}; float64; d = {args.d}")
    for n in args.N:
        rng = np.random.default_rng(0)
        X = rng.normal(size=(n, args.d))
        Y = 1.3 * rng.normal(size=(n, args.d)) + 0.5
        Z = np.concatenate([X, Y])
        eps = (args.blur * np.linalg.norm(Z.max(0) - Z.min(0))) ** 2
        exact = None
        if n <= args.skip_exact_above:
            t = time.perf_counter()
            exact = w2(X, Y, method="exact", squared=True)
            te = time.perf_counter() - t
            print(f"N = {n:6d}  exact     W2² = {exact:.6f}  {te:8.2f} s  ({1 / te:.3g} solves/s)")
        t = time.perf_counter()
        s, meta = w2(X, Y, method="sinkhorn", eps=eps, squared=True, info=True)
        ts = time.perf_counter() - t
        rel = f"  (S−W2²)/W2² = {(s - exact) / exact:+.2e}" if exact is not None else ""
        print(f"N = {n:6d}  sinkhorn  S_ε = {s:.6f}  {ts:8.2f} s  ({1 / ts:.3g} solves/s)  "
              f"ε = {eps:.3g}, iterations {meta['iterations']}{rel}")
        t = time.perf_counter()
        v = w2_1d(X[:, 0], Y[:, 0], squared=True)
        t1 = time.perf_counter() - t
        print(f"N = {n:6d}  1-D (first coordinate) W2² = {v:.6f}  {t1 * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
