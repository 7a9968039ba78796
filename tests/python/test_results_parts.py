#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A run killed with SIGKILL leaves its committed points as parts (OUT.parts/pNNNNNN.h5, see
src/core/point_writer.hpp): scripts/numlab_results.py reads them as the file's points, never a
part of another file of the same name; --resume packs them into OUT.

Usage: test_results_parts.py --numlab PATH --source-dir DIR --work-dir DIR
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def parts(out):
    d = out + ".parts"
    return sorted(n for n in os.listdir(d) if n.endswith(".h5")) if os.path.isdir(d) else []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--numlab", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--work-dir", required=True)
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(a.source_dir, "scripts"))
    import numlab_results as nr

    shutil.rmtree(a.work_dir, ignore_errors=True)
    os.makedirs(a.work_dir)
    cfg = os.path.join(a.work_dir, "slow.yaml")
    with open(cfg, "w") as f:
        f.write("name: slow\nkind: linsolve\nwarmup: 0\nrepetitions: 3\n"
                "sweep: {product: {seed: [1, 2, 3, 4, 5, 6]}}\n"
                "matrix: {generator: random_sparse, N: 1200, density: 0.01}\n"
                "methods: [gauss_elim, reference]\n")
    out = os.path.join(a.work_dir, "slow.h5")
    p = subprocess.Popen([a.numlab, cfg, "-o", out], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while len(parts(out)) < 3 and time.time() < deadline and p.poll() is None:
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    committed = parts(out)
    check(3 <= len(committed) < 12, f"the killed run committed {len(committed)} parts")
    with h5py.File(out, "r") as f:
        check(len(f["points"]) == 0, "the file itself holds none of them (not packed)")
        file_id = f.attrs["file_id"]
    # A part of another file of the same name (an earlier run's, e.g. before --overwrite).
    foreign = os.path.join(out + ".parts", "p000011.h5")
    with h5py.File(foreign, "w") as f:
        f.attrs["file_id"] = "someotherfile"
        g = f.create_group("points").create_group("p000011")
        g.attrs["status"] = "solved"
        g.attrs["point_index"] = 11
    # A part whose writer was killed mid-write.
    with open(os.path.join(out + ".parts", "p000010.h5.tmp.12345"), "w") as f:
        f.write("half")

    rf = nr.load_file(out)
    idx = sorted(int(q["point_index"]) for q in rf.points)
    check(len(rf.points) == len(committed), f"numlab_results reads the {len(committed)} parts ({len(rf.points)})")
    check(11 not in idx or "p000011.h5" in committed, "the foreign part is not read")
    check(all(q["status"] in ("solved", "failed") for q in rf.points), "statuses read")
    check(file_id != "someotherfile", "file_id is the file's own")

    r = subprocess.run([a.numlab, cfg, "-o", out, "--resume", "-q"], capture_output=True, text=True)
    check(r.returncode == 0, f"--resume exits 0 ({r.stderr[-500:]})")
    check(not os.path.exists(out + ".parts"), "--resume packed the parts and removed the foreign one")
    with h5py.File(out, "r") as f:
        n = len(f["points"])
    check(n == 12, f"the packed file holds all 12 points ({n})")
    check(len(nr.load_file(out).points) == 12, "numlab_results reads 12")
    if failures:
        print(f"{len(failures)} check(s) failed", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
