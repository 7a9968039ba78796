#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Table of the bf16 lab sweep: numlab's points and the torch peer's, one line per point, from
the HDF5 attributes (usage: summarize.py NUMLAB.h5 [TORCH.h5 ...])."""
import sys

import h5py


def val(a, k, default=None):
    v = a.get(k, default)
    if isinstance(v, bytes):
        v = v.decode()
    if hasattr(v, "item") and getattr(v, "shape", None) == ():
        v = v.item()  # numpy scalar -> int / float / bool
    return v


def rows(path):
    with h5py.File(path, "r") as f:
        peer = val(f.attrs, "peer", "numlab")
        for name in sorted(f["points"]):
            a = dict(f["points"][name].attrs)
            yield peer, {k: val(a, k) for k in a}


def ms(x):
    return f"{1e3 * x:9.3f}" if isinstance(x, (int, float)) else f"{'-':>9}"


def num(x, fmt):
    return format(x, fmt) if isinstance(x, (int, float)) else "-"


def main(paths):
    """numlab: one method per point (forward or backward); torch: SDPA / torch_standard points carry both."""
    print(f"{'peer':6} {'method':16} {'dq':8} {'B':>2} {'N':>5} {'status':8} {'kernel':18} {'fwd ms':>9} {'bwd ms':>9} "
          f"{'fwd MiB':>8} {'bwd MiB':>8} {'O vs std':>9} {'dQ vs std':>9} {'O vs fp64':>9} {'dQ vs fp64':>10}")
    mib = lambda b: num(b / 2**20 if isinstance(b, (int, float)) else None, "8.1f")  # noqa: E731
    for path in paths:
        for peer, a in rows(path):
            m = a.get("method")
            bwd_only = m.endswith("_bwd")
            fwd_peak = None if bwd_only else a.get("peak_device_bytes")
            bwd_peak = a.get("peak_device_bytes") if bwd_only else a.get("backward_peak_device_bytes")
            print(f"{peer[:6]:6} {m:16} {str(a.get('dq', '') or ''):8} {a.get('B', ''):>2} {a.get('N', ''):>5} "
                  f"{str(a.get('status')):8} {str(a.get('kernel_run', a.get('sdpa_backend', '')))[:18]:18} "
                  f"{ms(a.get('forward_seconds_median'))} {ms(a.get('backward_seconds_median'))} "
                  f"{mib(fwd_peak):>8} {mib(bwd_peak):>8} "
                  f"{num(a.get('O_rel_fro_vs_standard'), '9.2e'):>9} {num(a.get('dQ_rel_fro_vs_standard'), '9.2e'):>9} "
                  f"{num(a.get('O_rel_fro_error'), '9.2e'):>9} {num(a.get('dQ_rel_fro_error'), '10.2e'):>10}"
                  + (f"  [{str(a.get('reason'))[:100]}]" if a.get("status") != "ok" else ""))


if __name__ == "__main__":
    main(sys.argv[1:])
