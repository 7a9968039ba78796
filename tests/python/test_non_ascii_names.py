#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Non-ASCII names never crash the run's output, plot.py or report.py (issue 15):

1. numlab runs a config whose file name, folder and `name` are not ASCII ("注意力 ü/实验_ü.yaml",
   name "注意力_ü"), into an output of such a name; the summary table holds the config's path and
   stays aligned.
2. A copy of that file whose points carry a non-ASCII method name ("方法_ü", as a peer might
   write) and root `name` goes through report.py (into a non-ASCII folder) and plot.py: exit 0,
   the names in report.md and report.html, every figure written.
The same for a linear-systems run, whose figures are drawn by other code paths."""
import argparse
import glob
import os
import shutil
import subprocess
import sys

import h5py

failures = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg, flush=True)
    if not cond:
        failures.append(msg)
    return cond


ATTENTION = """name: 注意力_ü
kind: attention
description: 非 ASCII の名前 (ü, 注意力)
output: 结果_ü.h5
warmup: 0
repetitions: 1
sweep:
  product: {N: [64, 128]}
shape: {B: 1, H: 1, D: 32}
dtype: float32
methods: [standard, tiled, flash, standard_bwd, flash_bwd]
"""
LINSOLVE = """name: 线性_ü
kind: linsolve
output: 线性_ü.h5
warmup: 0
repetitions: 1
sweep:
  product: {N: [50, 100], density: [0.1]}
matrix: {generator: random_sparse, dominance: strict, seed: 1}
methods: [gauss_elim, {name: gauss_seidel, variant: sequential, tol: 1.0e-8, max_iter: 500}, reference]
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--numlab", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--work-dir", required=True)
    args = ap.parse_args()
    src, numlab, work = (os.path.abspath(x) for x in (args.source_dir, args.numlab, args.work_dir))
    shutil.rmtree(work, ignore_errors=True)
    folder = os.path.join(work, "注意力 ü")
    os.makedirs(folder)
    env = dict(os.environ, OMP_PROC_BIND="false", MPLBACKEND="Agg")
    py = sys.executable
    for kind, text in (("attention", ATTENTION), ("linsolve", LINSOLVE)):
        cfg = os.path.join(folder, f"实验_{kind}_ü.yaml")
        with open(cfg, "w", encoding="utf-8") as f:
            f.write(text)
        out = os.path.join(folder, f"结果_{kind}_ü.h5")
        r = subprocess.run([numlab, cfg, "-o", out], cwd=folder, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        log = r.stdout.decode("utf-8", "replace")
        check(r.returncode == 0 and os.path.isfile(out), f"{kind}: numlab runs a non-ASCII config into a non-ASCII "
              f"file (exit {r.returncode}){'' if r.returncode == 0 else ': ' + log[-800:]}")
        check(f"结果_{kind}_ü.h5" in log, f"{kind}: the summary names the output")
        table = log[log.find("Summary"):].splitlines()[1:]
        rows = [line for line in table[2:] if line.strip() and not line.startswith("(")]
        check(rows and all(len(line) <= 100 for line in table), f"{kind}: the summary fits 100 columns")
        # A peer-like copy: non-ASCII method names and file name.
        renamed = os.path.join(folder, f"同伴_{kind}_ü.h5")
        shutil.copy(out, renamed)
        with h5py.File(renamed, "r+") as f:
            f.attrs["name"] = "同伴_ü"
            f.attrs["peer"] = "同伴"
            for g in f["points"].values():
                m = g.attrs["method"]
                g.attrs["method"] = (m.decode() if isinstance(m, bytes) else str(m)) + "_方法_ü"
        rep = os.path.join(folder, f"报告_{kind} ü")
        r = subprocess.run([py, os.path.join(src, "scripts", "report.py"), out, renamed, "-o", rep], cwd=folder,
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        log = r.stdout.decode("utf-8", "replace")
        check(r.returncode == 0, f"{kind}: report.py on non-ASCII names exits 0 (exit {r.returncode})"
              f"{'' if r.returncode == 0 else ': ' + log[-1500:]}")
        check("Traceback" not in log, f"{kind}: report.py has no figure that failed ({log[log.find('Traceback'):][:600]!r})"
              if "Traceback" in log else f"{kind}: no figure failed")
        for name in ("report.md", "report.html"):
            path = os.path.join(rep, name)
            text = open(path, encoding="utf-8").read() if os.path.isfile(path) else ""
            check("_方法_ü" in text, f"{kind}: {name} holds the non-ASCII method name")
        figs = glob.glob(os.path.join(rep, "figures", "*.png"))
        check(len(figs) > 0, f"{kind}: report.py drew {len(figs)} figures")
        pdir = os.path.join(folder, f"图_{kind}")
        r = subprocess.run([py, os.path.join(src, "scripts", "plot.py"), out, renamed, "-o", pdir], cwd=folder, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        log = r.stdout.decode("utf-8", "replace")
        check(r.returncode == 0 and glob.glob(os.path.join(pdir, "*.png")),
              f"{kind}: plot.py on non-ASCII names exits 0 and draws (exit {r.returncode}){'' if r.returncode == 0 else ': ' + log[-1200:]}")
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
