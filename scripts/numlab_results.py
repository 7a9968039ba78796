# SPDX-License-Identifier: MIT
"""Load numlab HDF5 results (and peer files in the same schema) into Python.

    import numlab_results as nr
    files = nr.load_files(["results/attn_sweep.h5", "results/bench/attention_peers_torch.h5"])
    points = nr.all_points(files)            # list of dicts, one per /points/pNNNNNN
    df = nr.load_frame(["results/linsolve_sweep.h5"])   # the same as a pandas DataFrame

Every point dict holds the group's attributes (decoded to plain Python values),
the small datasets `residual_history`, `times_seconds`, `backward_times_seconds` (a peer's
backward repetitions), `sweep_seconds`,
`setup_times_seconds` as NumPy arrays, and these bookkeeping keys:

  source     short name of the file (its stem, made unique when two files share one)
  path       the file's path
  peer       the file's root attribute `peer` ('numpy', 'scipy', 'torch', ...) or 'numlab'
  is_peer    True for a peer file
  kind       'attention' or 'linsolve' (root attribute `kind`, else inferred)
  group      the point's group name (pNNNNNN)

numlab's facts (its problem keys, the methods' option defaults, values it
derives) come from numlab itself, never from a copy here: from the attributes
numlab writes (`dominance_factor_effective`, `N_kv_effective`, `tile_q_run`, ...)
and, for older files without them, from `numlab --list --format json` and
`--dry-run --format json` (scripts/numlab_cli.py; the binary: $NUMLAB_BIN,
$NUMLAB, $NUMLAB_BINARY or build/numlab). Without a binary those details are
left out (labels without option details, no derived value).

Readers are tolerant: unknown attributes are kept, missing ones are absent,
a file without /points gives no points, and a point that failed or was skipped
simply has no metrics. Use `is_valid(p)` before treating a metric as a result.
"""
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numlab_cli  # noqa: E402

try:
    import h5py
except ImportError:  # pragma: no cover - reported by the callers
    h5py = None

# Statuses whose metrics are results (a solution, a timed kernel).
VALID_STATUSES = {"ok", "solved", "converged", "success", "passed"}
# Statuses that still carry diagnostics (residual history, spectral radius,
# iterations) but no valid solution.
DIAGNOSTIC_STATUSES = {"diverged", "max_iterations"}

# Datasets small enough to load with every point.
SMALL_DATASETS = ("residual_history", "times_seconds", "backward_times_seconds", "sweep_seconds",
                  "setup_times_seconds")

# numlab's derived values of a problem, as attributes (numlab writes them; derive_missing
# fills them in for older files through numlab's dry run).
DOMINANCE_KEY = "dominance_factor_effective"
N_KV_KEY = "N_kv_effective"

# Problem parameters that do not make two points different problems when comparing times
# (whether the errors are computed): a choice of the comparison, not numlab's schema.
NOT_IDENTITY = ("reference",)

# Time metrics compared between numlab and its peers.
TIME_METRICS = ("forward_seconds_median", "backward_seconds_median", "solve_seconds_median",
                "sweep_seconds_median")

BOOKKEEPING = ("source", "path", "peer", "is_peer", "kind", "group")


def decode(value):
    """HDF5 attribute -> plain Python value (str, int, float, bool, list)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        if value.shape == () or value.size == 1:
            return decode(value.reshape(-1)[0] if value.size else None)
        return [decode(v) for v in value.tolist()]
    return value


class ResultFile:
    """One HDF5 file: root attributes and its points."""

    def __init__(self, path, attrs, points, source):
        self.path = path
        self.attrs = attrs
        self.points = points
        self.source = source

    @property
    def peer(self):
        p = self.attrs.get("peer")
        return str(p) if p not in (None, "") else None

    @property
    def is_peer(self):
        return self.peer is not None

    @property
    def kind(self):
        k = self.attrs.get("kind")
        if k:
            return str(k)
        kinds = {p["kind"] for p in self.points if p.get("kind")}
        return kinds.pop() if len(kinds) == 1 else "unknown"

    @property
    def name(self):
        return str(self.attrs.get("name") or self.source)

    def __repr__(self):
        return f"ResultFile({self.path!r}, {len(self.points)} points, kind={self.kind}, peer={self.peer})"


def infer_kind(attrs):
    if any(k in attrs for k in ("forward_seconds_median", "backward_seconds_median", "O_rel_fro_error")):
        return "attention"
    if any(k in attrs for k in ("solve_seconds_median", "density", "rel_residual", "iterations")):
        return "linsolve"
    if "D" in attrs and "H" in attrs:
        return "attention"
    return None


def _unique_sources(paths):
    """Short, unique names for the files: the stem, with parent folders added on clashes."""
    parts = [os.path.normpath(os.path.abspath(p)).split(os.sep) for p in paths]
    depth = {i: 1 for i in range(len(paths))}
    for _ in range(8):
        names = {}
        for i, pp in enumerate(parts):
            tail = pp[-depth[i]:]
            tail[-1] = os.path.splitext(tail[-1])[0]
            names[i] = "/".join(tail)
        clashes = [i for i in names if list(names.values()).count(names[i]) > 1]
        if not clashes:
            return [names[i] for i in range(len(paths))]
        for i in clashes:
            depth[i] += 1
    return [f"{names[i]}#{i}" for i in range(len(paths))]


def part_files(path):
    """The part files beside a results file (PATH.parts/pNNNNNN.h5, beside the file a symlink
    names), sorted: the points a run appended but has not packed yet (an interrupted or running
    run: numlab's src/core/point_writer.hpp)."""
    folder = os.path.realpath(path) + ".parts"
    if not os.path.isdir(folder):
        return []
    return [os.path.join(folder, n) for n in sorted(os.listdir(folder))
            if n.startswith("p") and n.endswith(".h5") and n[1:-3].isdigit()]


def committed_parts(path, file_id, log=None):
    """Those of part_files(path) whose root file_id is `file_id` (the file's own)."""
    out = []
    if not file_id:
        return out
    for q in part_files(path):
        try:
            with h5py.File(q, "r") as f:
                if decode(f.attrs.get("file_id")) == file_id:
                    out.append(q)
        except FileNotFoundError:
            pass  # packed meanwhile: the file holds it now
        except OSError as e:
            (log or (lambda m: print(m, file=sys.stderr)))(f"warning: {q}: cannot read ({e}); its point is left out")
    return out


def read_groups(f, path, source, peer, file_kind, load_arrays, by_group):
    """The /points groups of an open file (a results file or one of its parts) into by_group."""
    grp = f.get("points")
    if not isinstance(grp, h5py.Group):
        return
    for name in sorted(grp.keys()):
        g = grp.get(name)
        if not isinstance(g, h5py.Group):
            continue
        p = {k: decode(v) for k, v in g.attrs.items()}
        if load_arrays:
            for ds in SMALL_DATASETS:
                d = g.get(ds)
                if isinstance(d, h5py.Dataset) and d.ndim <= 1 and d.size <= 10_000_000:
                    try:
                        p[ds] = np.asarray(d[()], dtype=float).reshape(-1)
                    except (TypeError, ValueError):
                        pass
        p["source"] = source
        p["path"] = path
        p["peer"] = peer or "numlab"
        p["is_peer"] = peer is not None
        p["kind"] = file_kind or infer_kind(p) or "unknown"
        p["group"] = name
        if "status" not in p:
            # A peer that forgot the status: a point with a metric is a result.
            p["status"] = "ok" if any(m in p for m in TIME_METRICS) else "unknown"
        p["status"] = str(p["status"])
        by_group[name] = p


def load_file(path, source=None, load_arrays=True):
    """Reads one file and its unpacked parts; raises OSError when it is not readable HDF5."""
    if h5py is None:
        raise RuntimeError("h5py is not installed (apt-get install python3-h5py)")
    source = source or os.path.splitext(os.path.basename(path))[0]
    by_group = {}
    # The parts are listed before the file is opened and kept when their file_id is that of the
    # file read (a pack renames the file before it removes the parts): a run packing or
    # replacing it meanwhile never yields points missing or of two files.
    parts = part_files(path)
    with h5py.File(path, "r") as f:
        attrs = {k: decode(v) for k, v in f.attrs.items()}
        peer = attrs.get("peer")
        peer = str(peer) if peer not in (None, "") else None
        file_kind = str(attrs["kind"]) if attrs.get("kind") else None
        read_groups(f, path, source, peer, file_kind, load_arrays, by_group)
    file_id = attrs.get("file_id")
    for q in parts if file_id else []:
        try:
            with h5py.File(q, "r") as f:
                if decode(f.attrs.get("file_id")) == file_id:
                    read_groups(f, path, source, peer, file_kind, load_arrays, by_group)
        except FileNotFoundError:
            pass  # packed meanwhile: the file holds it now
        except OSError as e:
            print(f"warning: {q}: cannot read ({e}); its point is left out", file=sys.stderr)
    points = [by_group[k] for k in sorted(by_group)]
    return ResultFile(path, attrs, points, source)


# ---------------------------------------------------------------- numlab's facts

_SCHEMA = []


def schema():
    """numlab_cli.Schema of the numlab binary found (`--list --format json`), or None (asked once)."""
    if not _SCHEMA:
        _SCHEMA.append(numlab_cli.schema())
    return _SCHEMA[0]


def problem_keys(kind):
    """numlab's problem parameters of the kind (`--list --format json`); () without a binary.
    A parameter named like a bookkeeping key (`path`: the loader puts the file's path there)
    is left out: the point no longer holds its value; so are NOT_IDENTITY."""
    sch = schema()
    return tuple(k for k in sch.problem_keys(kind) if k not in BOOKKEEPING + NOT_IDENTITY) if sch else ()


def method_order():
    """numlab's methods in the order it lists them (`--list --format json`)."""
    sch = schema()
    return sch.method_names() if sch else []


def option_default(p, key):
    """(known, default) of option `key` of the point's method, from numlab's --list."""
    sch = schema()
    if sch is None:
        return False, None
    kind = p.get("kind") if p.get("kind") in sch.kinds else sch.kind_of_method(str(p.get("method")))
    return sch.option_default(kind, str(p.get("method")), key) if kind else (False, None)


def is_default(p, key):
    """True when the point's `key` is its method's default in numlab (False when unknown)."""
    known, d = option_default(p, key)
    if not known or key not in p:
        return False
    v = p[key]
    if isinstance(d, bool) or isinstance(v, bool):
        return truthy(v) == bool(d)
    if isinstance(d, (int, float)):
        x = number(p, key)
        return x is not None and math.isclose(x, float(d), rel_tol=1e-12, abs_tol=0.0)
    return str(v) == str(d)


def value_or_default(p, key):
    """The point's `key`, else its method's default in numlab (None when unknown)."""
    if p.get(key) is not None:
        return p[key]
    return option_default(p, key)[1]


_DERIVED = {}


def _expand(kind, problems, log):
    """{index: derived} of the problems numlab accepts: one dry run; where numlab refuses the set
    with the defaults (a problem only one backend runs, e.g. bfloat16), each backend and method
    of the kind in turn; then one dry run a problem."""
    numlab = numlab_cli.find_numlab()
    why = None
    try:
        got = numlab_cli.expand_problems_any_backend(numlab, kind, problems)
        return dict(enumerate(d for _, d in got))
    except numlab_cli.NumlabError as e:
        why = str(e).splitlines()[-1].split(": error: ")[-1]
    out, refused = {}, 0
    for i, prob in enumerate(problems):
        try:
            out[i] = numlab_cli.expand_problems(numlab, kind, [prob])[0][1]
        except numlab_cli.NumlabError:
            refused += 1
    if refused:
        log(f"note: numlab derives no values for {refused} {kind} problem(s) of older files (e.g. {why})")
    return out


def derive_missing(points, log=None):
    """Adds numlab's derived values (e.g. dominance_factor_effective) to points of older files
    that lack them, from numlab's dry run of the point's own problem. Only points that record
    every problem parameter numlab has a default for (a partial peer point stays as it is)."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    sch = schema()
    if sch is None:
        return
    todo = {}
    for p in points:
        kind = p.get("kind")
        params = sch.problem_params(kind)
        if not params or any(prm.get("default") is not None and prm["key"] not in p for prm in params):
            continue
        prob = {prm["key"]: sch.typed(kind, prm["key"], p[prm["key"]]) for prm in params
                if p.get(prm["key"]) is not None and prm["key"] not in BOOKKEEPING}
        key = (kind, json.dumps(prob, sort_keys=True, default=str))
        todo.setdefault(key, (kind, prob, []))[2].append(p)
    groups = {}  # per file and kind: a file's problems share what numlab needs to accept them
    for key, (kind, prob, pts) in todo.items():
        if key not in _DERIVED:
            groups.setdefault((pts[0].get("source"), kind), []).append((key, prob))
    for (_, kind), items in groups.items():
        got = _expand(kind, [prob for _, prob in items], log)
        for i, (key, _) in enumerate(items):
            _DERIVED[key] = got.get(i, {})
    for key, (_, _, pts) in todo.items():
        for p in pts:
            for k, v in _DERIVED.get(key, {}).items():
                p.setdefault(k, v)


def load_files(paths, log=None, load_arrays=True, derive=True):
    """Reads every readable file; unreadable ones are reported through log (default: stderr).
    derive: fill in numlab's derived values where a file lacks them (derive_missing)."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    files = []
    for path, source in zip(paths, _unique_sources(paths)):
        try:
            rf = load_file(path, source, load_arrays=load_arrays)
        except (OSError, KeyError, RuntimeError) as e:
            log(f"warning: cannot read {path}: {e}")
            continue
        sv = rf.attrs.get("schema_version")
        if sv not in (None, 1):
            log(f"warning: {path}: schema_version {sv} (this reader knows 1); reading it anyway")
        if not rf.points:
            log(f"note: {path}: no points")
        files.append(rf)
    if derive:
        derive_missing(all_points(files), log)
    return files


def all_points(files):
    return [p for f in files for p in f.points]


def load_points(paths, log=None):
    return all_points(load_files(paths, log=log))


def load_frame(paths, log=None):
    """All points of the files as a pandas DataFrame (one row per point)."""
    import pandas as pd
    return pd.DataFrame(load_points(paths, log=log))


# ---------------------------------------------------------------- point helpers

def status_of(p):
    return str(p.get("status", "unknown"))


def is_valid(p):
    """The point's metrics are a result (ok / solved / converged)."""
    return status_of(p) in VALID_STATUSES


def has_diagnostics(p):
    """Valid, or diverged / hit max_iterations: iteration diagnostics are meaningful."""
    return status_of(p) in VALID_STATUSES or status_of(p) in DIAGNOSTIC_STATUSES


def number(p, key):
    """A finite float metric of the point, or None."""
    v = p.get(key)
    if isinstance(v, bool) or v is None:
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def valid_metric(p, key):
    """The metric when the point is valid, else None."""
    return number(p, key) if is_valid(p) else None


def effective_dominance(p):
    """Diagonal dominance factor a_ii / sum_j |a_ij| of a linsolve point, or None: the
    dominance_factor_effective numlab writes (or derive_missing filled in)."""
    return number(p, DOMINANCE_KEY)


def dominance_levels(points):
    """{effective factor: named level} as the points record them (their `dominance` where no
    explicit `dominance_factor` is given), e.g. {2.0: 'strict'}."""
    out = {}
    for p in points:
        f = effective_dominance(p)
        if f is not None and p.get("dominance") and p.get("dominance_factor") is None:
            out.setdefault(f, str(p["dominance"]))
    return out


def levels_text(points):
    """'strict = 2, weak = 1' of the points' named dominance levels ('' without any)."""
    lv = dominance_levels(points)
    return ", ".join(f"{name} = {f:g}" for f, name in sorted(lv.items(), reverse=True))


def truthy(v):
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes", "on")
    try:
        return bool(v)
    except (TypeError, ValueError):
        return False


def problem_value(p, key):
    """A problem parameter, normalised for comparison (None when absent)."""
    if key == "dominance":
        return effective_dominance(p)
    if key == "N_kv":
        for k in (N_KV_KEY, "N_kv", "N_kv_run"):  # numlab's derived value, the given one, the one run
            if p.get(k) is not None:
                return int(p[k])
        return None
    if key == "causal":
        return None if p.get("causal") is None else truthy(p.get("causal"))
    v = p.get(key)
    if v is None:
        return None
    sch = schema()
    if sch is not None and p.get("kind") in sch.kinds:
        v = sch.typed(p["kind"], key, v)
    if isinstance(v, str):
        return v.strip().lower()
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    return v


def _same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)
    return a == b


def problems_match(numlab_point, peer_point, kind=None):
    """True when every problem parameter the peer records equals numlab's.

    A parameter the peer leaves out matches anything; one the peer records but
    numlab's point lacks does not match."""
    kind = kind or numlab_point.get("kind")
    for key in problem_keys(kind) or _shared_keys(numlab_point, peer_point):
        b = problem_value(peer_point, key)
        if b is None:
            continue
        a = problem_value(numlab_point, key)
        if a is None or not _same(a, b):
            return False
    return True


def _shared_keys(a, b):
    """Without numlab's --list: the parameters both points' point_key names (method excluded)."""
    def names(p):
        return {kv.split("=", 1)[0] for kv in str(p.get("point_key", "")).split(";") if "=" in kv}
    return sorted((names(a) & names(b)) - {"method"})


def problem_key(p, keys=None):
    """Tuple of the normalised problem parameters (for grouping)."""
    keys = keys or problem_keys(p.get("kind"))
    return tuple(problem_value(p, k) for k in keys)


def short_commit(c):
    c = str(c or "")
    return c[:10] if len(c) >= 10 else c


def version_attrs(attrs):
    """Library versions recorded in root attributes: {'numpy_version': '1.24.2', ...}."""
    return {k: v for k, v in attrs.items() if k.endswith("_version") and k != "schema_version"}
