#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`numlab lab` end to end, on the smallest configs that give every lab check its data
(tests/data/lab_tiny, a minute on 2 cores):

1. configs/lab/quick/NAME.yaml keeps the methods and sweep axes of configs/NAME.yaml (the quick lab
   is the lab at small sizes, not a different lab), and so does tests/data/lab_tiny/.
2. `numlab lab --host --configs tests/data/lab_tiny -o DIR`: exit 0, every experiment's file with
   all its points, each peer's file or a "skipped: why", the report, its path printed.
3. Again into the same DIR without --resume / --overwrite: exit 2, nothing touched.
4. --resume: every experiment resumed with 0 points to run, each complete peer file kept.
5. The report renders in headless Chromium (report_render.py); the screenshot is kept in
   --screenshot-dir.
6. A missing config, a binary whose checkout is gone (NUMLAB_ROOT) and --gpu on a host build:
   exit 2 with the reason.
Exit 77 (ctest SKIP) where Chromium is not installed, after every other check.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time

import h5py
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report_render  # noqa: E402

HOST_EXPERIMENTS = ["linsolve_sweep", "linsolve_nondominant", "attn_sweep", "attn_memory", "attn_host_baselines"]
GPU_EXPERIMENTS = ["attn_gpu_bf16_lab", "attn_gpu_fp32", "attn_gpu_fp32_bwd", "linsolve_gpu", "poisson_gpu",
                   "poisson_gpu_iterations"]
PEERS = ["linsolve_sweep_scipy", "attn_host_baselines_numpy", "attn_host_baselines_torch"]
failures = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg, flush=True)
    if not cond:
        failures.append(msg)
    return cond


def shape_of(path):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    sweep = doc.get("sweep") or {}
    axes = sorted(k for mode in sweep.values() for k in mode)
    return doc["kind"], doc["methods"], axes, doc.get("backend", "default"), doc.get("dtype")


def points_of(path):
    with h5py.File(path, "r") as f:
        total = int(f.attrs["total_points"])
        statuses = [f["points"][g].attrs["status"] for g in f["points"]] if "points" in f else []
    return total, [s.decode() if isinstance(s, bytes) else str(s) for s in statuses]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--numlab", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("--screenshot-dir", default=None, help="keep the screenshot here (default: the work dir)")
    args = ap.parse_args()
    src, numlab = os.path.abspath(args.source_dir), os.path.abspath(args.numlab)
    work = os.path.abspath(args.work_dir)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)

    # 1. The quick and tiny configs are the lab's, smaller.
    for folder in (os.path.join(src, "configs", "lab", "quick"), os.path.join(src, "tests", "data", "lab_tiny")):
        names = HOST_EXPERIMENTS + (GPU_EXPERIMENTS if folder.endswith("quick") else [])
        for name in names:
            small, full = os.path.join(folder, name + ".yaml"), os.path.join(src, "configs", name + ".yaml")
            if not check(os.path.isfile(small), f"{os.path.relpath(small, src)} exists"):
                continue
            s, f = shape_of(small), shape_of(full)
            check(s == f, f"{os.path.relpath(small, src)}: kind, methods, sweep axes, backend, dtype of "
                  f"configs/{name}.yaml ({s if s != f else 'same'})")
            r = subprocess.run([numlab, small, "--dry-run"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
            check(r.returncode == 0 or name in GPU_EXPERIMENTS,
                  f"{os.path.relpath(small, src)} validates (exit {r.returncode}) {r.stdout[-300:] if r.returncode else ''}")

    # 2. The tiny lab.
    out = os.path.join(work, "lab")
    cmd = [numlab, "lab", "--host", "--configs", os.path.join(src, "tests", "data", "lab_tiny"), "-o", out]
    env = dict(os.environ, OMP_PROC_BIND="false")
    t0 = time.time()
    r = subprocess.run(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    secs = time.time() - t0
    with open(os.path.join(work, "lab-run.log"), "w") as f:
        f.write(r.stdout)
    check(r.returncode == 0, f"numlab lab exits 0 (exit {r.returncode}, {secs:.0f} s){'' if r.returncode == 0 else ': ' + r.stdout[-2000:]}")
    for name in HOST_EXPERIMENTS:
        path = os.path.join(out, name + ".h5")
        if check(os.path.isfile(path), f"{name}.h5 written"):
            total, statuses = points_of(path)
            check(len(statuses) == total and "failed" not in statuses,
                  f"{name}.h5 holds its {total} points, none failed ({len(statuses)}; {sorted(set(statuses))})")
        check(os.path.isfile(os.path.join(out, "logs", name + ".log")), f"logs/{name}.log written")
    table = r.stdout[r.stdout.rfind("\nstep "):]
    for peer in PEERS:
        row = next((line for line in table.splitlines() if line.startswith(peer + " ")), "")
        ran = os.path.isfile(os.path.join(out, peer + ".h5"))
        check(bool(re.search(r"\s(ok|skipped: \S.*)\s", row + " ")) and (ran or "skipped" in row),
              f"peer {peer}: ok with a file, or skipped with the reason: {row.strip()!r}")
        if ran:
            total, statuses = points_of(os.path.join(out, peer + ".h5"))
            check(len(statuses) == total, f"{peer}.h5 holds its {total} points")
    check(os.path.isfile(os.path.join(out, "linsolve_sweep_scipy.h5")),
          "the SciPy peer ran (scipy is a dependency of the repository)")
    with open(os.path.join(out, "logs", "report.log"), encoding="utf-8") as f:
        report_log = f.read()
    failed_figs = [line for line in report_log.splitlines() if "failed" in line and "figure" in line]
    check(not failed_figs, f"report.py drew every figure ({failed_figs[:3]})")
    html = os.path.join(out, "report", "report.html")
    m = re.search(r"^Report: (.+report\.html)$", r.stdout, re.M)
    check(m is not None and os.path.samefile(m.group(1), html), f"the report's path is printed ({m and m.group(1)})")

    # 3. An existing DIR is not replaced silently.
    before = {f: os.path.getmtime(os.path.join(out, f)) for f in os.listdir(out) if f.endswith(".h5")}
    r = subprocess.run(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check(r.returncode == 2 and "--resume" in r.stdout and "--overwrite" in r.stdout,
          f"again without --resume: exit 2 naming --resume and --overwrite (exit {r.returncode}: {r.stdout[-300:]!r})")
    after = {f: os.path.getmtime(os.path.join(out, f)) for f in os.listdir(out) if f.endswith(".h5")}
    check(before == after, "... and no file touched")

    # 4. --resume: nothing to run again.
    t0 = time.time()
    r = subprocess.run(cmd + ["--resume"], cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    check(r.returncode == 0, f"--resume exits 0 (exit {r.returncode}, {time.time() - t0:.0f} s)")
    for name in HOST_EXPERIMENTS:
        with open(os.path.join(out, "logs", name + ".log"), encoding="utf-8") as f:
            log = f.read()
        check(re.search(r"\d+ points, 0 to run", log) is not None, f"--resume: {name} has 0 points to run")
    for peer in PEERS:
        if os.path.isfile(os.path.join(out, peer + ".h5")):
            check(re.search(rf"^{peer} +complete \(\d+ points\), kept", r.stdout, re.M) is not None,
                  f"--resume: the complete {peer}.h5 is kept")
    check(os.path.isfile(html), "--resume rewrites the report")

    # 6. Errors.
    bad = os.path.join(work, "configs-missing")
    os.makedirs(bad)
    shutil.copy(os.path.join(src, "tests", "data", "lab_tiny", "attn_sweep.yaml"), bad)
    r = subprocess.run([numlab, "lab", "--host", "--configs", bad, "-o", os.path.join(work, "lab2")], cwd=work,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check(r.returncode == 2 and "linsolve_sweep.yaml" in r.stdout and not os.path.exists(os.path.join(work, "lab2")),
          f"a missing config: exit 2 naming it, nothing written (exit {r.returncode}: {r.stdout[-200:]!r})")
    r = subprocess.run([numlab, "lab", "--quick", "-o", os.path.join(work, "lab4")], cwd=work,
                       env=dict(env, NUMLAB_ROOT=os.path.join(work, "no-such-checkout")), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    check(r.returncode == 2 and "scripts/report.py" in r.stdout and "NUMLAB_ROOT" in r.stdout,
          f"no checkout where the binary looks: exit 2 naming what is missing ({r.stdout.strip()[-200:]!r})")
    r = subprocess.run([numlab, "--list"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if "default execution space: Cuda" not in r.stdout and "default execution space: HIP" not in r.stdout:
        r = subprocess.run([numlab, "lab", "--gpu", "-o", os.path.join(work, "lab3")], cwd=work,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        check(r.returncode == 2 and "GPU" in r.stdout, f"--gpu on a host build: exit 2 ({r.stdout.strip()[-200:]!r})")

    # 5. The report renders.
    chrome = report_render.find_chromium()
    if chrome is None:
        print("SKIP: no Chromium installed (scripts/install_deps.sh installs it); every other check ran")
        return 1 if failures else 77
    shots = os.path.abspath(args.screenshot_dir or work)
    os.makedirs(shots, exist_ok=True)
    report_render.check_report(check, chrome, html, os.path.join(shots, "lab-host-tiny.png"), work,
                               "the tiny host lab's report")
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
