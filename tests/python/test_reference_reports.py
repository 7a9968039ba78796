#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The reports of the committed GPU reference runs (results/reference/gpu-h100 and gpu-h200-*:
every .h5 at the top of each folder) are written by scripts/report.py and render in headless
Chromium (report_render.py: the images exist, the screenshot is a non-blank PNG of the window's
width). Screenshots are kept in --screenshot-dir. Exit 77 (ctest SKIP) without Chromium."""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report_render  # noqa: E402

failures = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg, flush=True)
    if not cond:
        failures.append(msg)
    return cond


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("--screenshot-dir", default=None)
    args = ap.parse_args()
    src, work = os.path.abspath(args.source_dir), os.path.abspath(args.work_dir)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    chrome = report_render.find_chromium()
    shots = os.path.abspath(args.screenshot_dir or work)
    os.makedirs(shots, exist_ok=True)
    ref = os.path.join(src, "results", "reference")
    folders = [os.path.join(ref, "gpu-h100")] + sorted(glob.glob(os.path.join(ref, "gpu-h200-*")))
    for folder in folders:
        name = os.path.basename(folder)
        files = sorted(glob.glob(os.path.join(folder, "*.h5")))
        if not check(files, f"{name}: has result files"):
            continue
        out = os.path.join(work, name)
        t0 = time.time()
        r = subprocess.run([sys.executable, os.path.join(src, "scripts", "report.py"), *files, "-o", out],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env=dict(os.environ, MPLBACKEND="Agg"))
        check(r.returncode == 0, f"{name}: report.py on {len(files)} files exits 0 ({time.time() - t0:.0f} s)"
              f"{'' if r.returncode == 0 else ': ' + r.stdout[-1500:]}")
        if chrome is not None:
            report_render.check_report(check, chrome, os.path.join(out, "report.html"),
                                       os.path.join(shots, f"reference-{name}.png"), work, name)
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    if chrome is None:
        print("SKIP: no Chromium installed (scripts/install_deps.sh installs it); the reports were written")
        return 77
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
