# SPDX-License-Identifier: MIT
"""Shared code of numlab's peer scripts (no torch here: tested on any machine).

A peer script runs another library (PyTorch SDPA, SciPy, ...) on the same
problems as a numlab config and writes numlab's HDF5 schema, so a plot that
reads numlab's file reads the peer's file too. It holds no copy of numlab's
schemas, defaults or sweep rules: it asks numlab (scripts/numlab_cli.py).

  * `load_config(path, numlab=BIN)`: the config's points as numlab's
    `BIN CONFIG --dry-run --format json` gives them (the run's own expansion:
    defaults filled in, derived values, the HDF5 attributes and point_key);
    BIN None: the binary numlab_cli.find_numlab() finds ($NUMLAB_BIN, $NUMLAB,
    build/numlab).
  * `expand_problems(kind, problems, numlab)`: a direct mode's problems
    completed and validated the same way.
  * `peer_points(...)`: the peer's points: every problem of the config times
    the peer's methods (times the variants a peer method asks for per problem).
  * `PeerFile`: root attributes (schema_version 1, peer, kind, name, device,
    host, versions, ...) and one group /points/pNNNNNN per finished point, added
    to a copy of the file that then replaces it (an interrupted run keeps every
    finished point, as numlab's files do).
  * timing statistics and metric names shared by the peers.

Attribute types follow numlab: integers int64, reals float64, booleans int8
(0/1), strings variable-length UTF-8.
"""
import datetime
import os
import platform
import re
import shlex
import shutil
import socket
import subprocess
import sys
from collections import OrderedDict

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import numlab_cli  # noqa: E402

SCHEMA_VERSION = 1


class ConfigError(ValueError):
    """A config (or direct-mode problem) numlab rejects, or no numlab binary to expand it with."""


# ------------------------------------------------------------ values -------
def format_value(v):
    """A value as numlab prints it (fmt "{}"): points keys, --dry-run lines."""
    if isinstance(v, bool) or isinstance(v, np.bool_):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        s = repr(float(v))
        return s[:-2] if s.endswith(".0") else s
    return str(v)


def canonical_key(params):
    """numlab's canonical_key: 'k=v;k=v' with the keys in byte order."""
    return ";".join(f"{k}={format_value(params[k])}" for k in sorted(params))


# ------------------------------------------------------------ numlab -------
def default_numlab():
    """numlab binary of this checkout, if built ($NUMLAB_BIN, $NUMLAB override; see numlab_cli)."""
    return numlab_cli.find_numlab()


def numlab_binary(numlab, what):
    """The numlab binary (numlab_cli.find_numlab); ConfigError naming `what` when there is none."""
    try:
        nl = numlab_cli.find_numlab(numlab)
    except numlab_cli.NumlabError as e:
        raise ConfigError(str(e)) from None
    if nl is None:
        raise ConfigError(f"{what}: no numlab binary found; the peers take the points from numlab "
                          "(pass --numlab BUILD/numlab, or set NUMLAB_BIN)")
    return nl


def numlab_schema(nl):
    """numlab_cli.Schema of the binary (`--list --format json`)."""
    sch = numlab_cli.schema(nl)
    if sch is None:
        raise ConfigError(f"`{nl} --list --format json` failed")
    return sch


def _typed(sch, kind, values, method=None):
    """A parameter map with numlab's types (reals float even where JSON wrote 2, ...)."""
    return OrderedDict((k, sch.typed(kind, k, v, method)) for k, v in values.items())


# ------------------------------------------------------------ config -------
class NumlabConfig:
    """A numlab config and its points as numlab expands them (numlab's order and indices).

    points: list of dicts {index, method, problem, options, derived, attributes,
    key (canonical_key of attributes), numlab_key (numlab's point_key)};
    problems: the distinct problem maps in the order numlab runs them."""

    def __init__(self, path, text, doc, points, expansion):
        self.path = path
        self.text = text
        self.dir = os.path.dirname(os.path.abspath(path)) if path else ""
        self.doc = doc
        self.kind = doc["kind"]
        self.name = str(doc["name"])
        self.warmup = int(doc["warmup"])
        self.repetitions = int(doc["repetitions"])
        self.output = doc.get("output")
        self.points = points
        self.expansion = expansion
        self.problems = []
        self._derived = {}
        for p in points:
            k = canonical_key(p["problem"])
            if k not in self._derived:
                self._derived[k] = p["derived"]
                self.problems.append(p["problem"])

    def points_of(self, problem):
        k = canonical_key(problem)
        return [p for p in self.points if canonical_key(p["problem"]) == k]

    def derived_of(self, problem):
        """numlab's derived values of the problem (e.g. dominance_factor_effective)."""
        return dict(self._derived.get(canonical_key(problem), {}))

    def resolve_path(self, path):
        """numlab's resolve_input_path: relative paths beside the config first."""
        if os.path.isabs(path) or not self.dir:
            return path
        beside = os.path.join(self.dir, path)
        return beside if os.path.exists(beside) else path


def load_config(path, numlab=None):
    """Reads a numlab config and takes its points from `numlab CONFIG --dry-run --format json`
    (numlab None: the binary numlab_cli.find_numlab() finds). Raises ConfigError with numlab's
    message when numlab rejects the config."""
    nl = numlab_binary(numlab, path)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        doc = numlab_cli.dry_run(nl, path)
    except numlab_cli.NumlabError as e:
        raise ConfigError(str(e)) from None
    sch = numlab_schema(nl)
    kind = doc["kind"]
    points = []
    for p in doc["points"]:
        problem = _typed(sch, kind, p["problem"])
        options = _typed(sch, kind, p["options"], p["method"])
        attrs = OrderedDict(problem)
        attrs.update(options)
        attrs["method"] = p["method"]
        points.append({"index": int(p["index"]), "method": p["method"], "problem": problem, "options": options,
                       "derived": dict(p.get("derived", {})), "attributes": attrs, "key": canonical_key(attrs),
                       "numlab_key": p.get("point_key")})
    return NumlabConfig(path, text, doc, points, "numlab --dry-run --format json")


def load_config_of_kind(args, kind):
    """The peer run's CONFIG (args.config, numlab from args.numlab); exits naming the file unless
    the config is of `kind`."""
    cfg = load_config(args.config, numlab=args.numlab)
    if cfg.kind != kind:
        raise SystemExit(f"{args.config}: kind {cfg.kind}, expected {kind}")
    return cfg


def expand_problems(kind, problems, numlab=None):
    """A direct mode's problems (maps of numlab problem keys; None values left out) as numlab
    completes them: [(problem with numlab's defaults, derived values)]. ConfigError when numlab
    rejects one."""
    nl = numlab_binary(numlab, f"{kind} problems")
    sch = numlab_schema(nl)
    given = [{k: v for k, v in p.items() if v is not None} for p in problems]
    try:
        out = numlab_cli.expand_problems_any_backend(nl, kind, given)
    except numlab_cli.NumlabError as e:
        raise ConfigError(str(e)) from None
    return [(_typed(sch, kind, p), dict(d)) for p, d in out]


def timing_counts(args, cfg):
    """(warmup, repetitions): the command line's, else the config's, else (direct mode) numlab's
    defaults from `numlab --list --format json`."""
    def default(key):
        nl = numlab_binary(getattr(args, "numlab", None), f"the default {key}")
        return int(numlab_schema(nl).setting_default(key))
    warmup = args.warmup if args.warmup is not None else (cfg.warmup if cfg is not None else default("warmup"))
    reps = (args.repetitions if args.repetitions is not None
            else (cfg.repetitions if cfg is not None else default("repetitions")))
    return warmup, reps


# ------------------------------------------------------------ peer points --
def peer_points(problems, methods, variants_of=None, derived_of=None):
    """The peer's points: problem-major, then method (numlab groups by problem too).

    problems: list of problem dicts; methods: peer method names; variants_of(problem,
    method) -> list of extra parameter dicts, one point each (None or an empty
    list: one point, no extras); derived_of(problem) -> numlab's derived values,
    written as attributes (not part of the key, as numlab's). Returns dicts
    {index, method, params, derived, key}."""
    out = []
    for problem in problems:
        derived = dict(derived_of(problem)) if derived_of else {}
        for m in methods:
            variants = (variants_of(problem, m) if variants_of else None) or [{}]
            for extra in variants:
                params = OrderedDict(problem)
                params.update(extra)
                attrs = dict(params)
                attrs["method"] = m
                out.append({"index": len(out), "method": m, "params": params, "derived": derived,
                            "key": canonical_key(attrs)})
    return out


# ------------------------------------------------------------ results ------
class PointResult:
    """What a peer measured on one point (numlab's PointResult)."""

    def __init__(self, status="ok", reason="", metrics=None, arrays=None):
        self.status = status
        self.reason = reason
        self.metrics = OrderedDict(metrics or {})
        self.arrays = OrderedDict(arrays or {})

    @classmethod
    def skipped(cls, reason, **metrics):
        return cls("skipped", reason, metrics)

    @classmethod
    def failed(cls, reason, **metrics):
        return cls("failed", reason, metrics)


def summarize(times):
    """min / median / mean as numlab's summarize (median of an even count: mean of the middle two)."""
    t = np.asarray(times, dtype=np.float64)
    if t.size == 0:
        return {"min": 0.0, "median": 0.0, "mean": 0.0, "max": 0.0}
    return {"min": float(t.min()), "median": float(np.median(t)), "mean": float(t.mean()), "max": float(t.max())}


def time_metrics(prefix, times, flops=None):
    """{prefix}_seconds_median|min|mean (and {prefix}_tflops from the median)."""
    st = summarize(times)
    m = OrderedDict()
    m[f"{prefix}_seconds_median"] = st["median"]
    m[f"{prefix}_seconds_min"] = st["min"]
    m[f"{prefix}_seconds_mean"] = st["mean"]
    if flops is not None:
        m[f"{prefix}_tflops"] = flops / st["median"] * 1e-12 if st["median"] > 0 else 0.0
    return m


def attention_forward_flops(B, H, N, N_kv, D, causal):
    """numlab's attention_forward_flops: 4 B H N N_kv D, halved for causal."""
    f = 4.0 * B * H * float(N) * float(N_kv) * D
    return f / 2 if causal else f


def attention_backward_flops(B, H, N, N_kv, D, causal):
    return 2.5 * attention_forward_flops(B, H, N, N_kv, D, causal)


def to_attr(v):
    """A Python value as numlab types its attributes (None: not written)."""
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return np.int8(1 if v else 0)
    if isinstance(v, (int, np.integer)):
        return np.int64(v)
    if isinstance(v, (float, np.floating)):
        return np.float64(v)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def decode_attr(v):
    """An HDF5 attribute as a plain Python value (bytes -> str, NumPy scalars -> int / float)."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.generic):
        return v.item()
    return v


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit():
    """HEAD of the clone; in a copy without .git (a GPU node), NUMLAB_GIT_COMMIT as numlab's CMake takes it."""
    try:
        r = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        c = r.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        c = ""
    if not re.fullmatch(r"[0-9a-f]{40}", c):
        c = os.environ.get("NUMLAB_GIT_COMMIT", "")
    return c if re.fullmatch(r"[0-9a-f]{40}", c) else "unknown"


def base_root_attrs(peer, kind, name, cfg=None, warmup=None, repetitions=None, total_points=None):
    """Provenance every peer file carries; the peer adds device and its library versions."""
    import h5py
    a = OrderedDict()
    a["peer"] = peer
    a["kind"] = kind
    a["name"] = name
    a["host"] = socket.gethostname()
    a["cpu"] = cpu_model()
    a["device"] = cpu_model()  # GPU peers override with the GPU's name
    a["created_utc"] = utc_now()
    a["command_line"] = " ".join(shlex.quote(x) for x in [sys.executable] + sys.argv)
    a["git_commit"] = git_commit()
    a["python_version"] = platform.python_version()
    a["numpy_version"] = np.__version__
    a["h5py_version"] = h5py.__version__
    a["hdf5_version"] = h5py.version.hdf5_version
    try:
        import scipy
        a["scipy_version"] = scipy.__version__
    except ImportError:
        pass
    if cfg is not None:
        a["config_path"] = cfg.path
        a["config_text"] = cfg.text
        a["expansion"] = cfg.expansion
    if warmup is not None:
        a["warmup"] = int(warmup)
    if repetitions is not None:
        a["repetitions"] = int(repetitions)
    if total_points is not None:
        a["total_points"] = int(total_points)
    return a


def group_name(index):
    return f"p{index:06d}"


class PeerFile:
    """A peer's HDF5 file in numlab's schema, written one point at a time.

    mode: 'new' (refuse an existing file), 'overwrite', or 'resume' (keep the
    file's points; done(key) tells which are there)."""

    def __init__(self, path, root_attrs, mode="new"):
        import h5py
        self.h5py = h5py
        self.path = path
        self._done = {}
        exists = os.path.exists(path)
        if exists and mode == "new":
            raise FileExistsError(f"output '{path}' already exists; pass --resume to continue it, --overwrite to "
                                  "replace it, or -o to write elsewhere")
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        if exists and mode == "resume":
            with h5py.File(path, "r") as f:
                for g in f.get("points", {}).values():
                    key = g.attrs.get("point_key")
                    if isinstance(key, bytes):
                        key = key.decode()
                    status = g.attrs.get("status")
                    if isinstance(status, bytes):
                        status = status.decode()
                    self._done[key] = status
            return
        tmp = path + ".tmp"
        with h5py.File(tmp, "w") as f:
            for k, v in root_attrs.items():
                v = to_attr(v)
                if v is not None:
                    f.attrs[k] = v
            f.attrs["schema_version"] = np.int64(SCHEMA_VERSION)
            f.create_group("points")
        os.replace(tmp, path)

    def done(self, key, retry_failed=False):
        """True when the file holds the point (and, with retry_failed, it did not fail)."""
        if key not in self._done:
            return False
        return not (retry_failed and self._done[key] == "failed")

    def add_point(self, point, result):
        """Writes point (a peer_points() dict) with its result; atomic replace of the file."""
        tmp = self.path + ".tmp"
        shutil.copyfile(self.path, tmp)
        with self.h5py.File(tmp, "a") as f:
            pts = f.require_group("points")
            name = group_name(point["index"])
            if name in pts:
                del pts[name]
            g = pts.create_group(name)
            for k, v in point["params"].items():
                v = to_attr(v)
                if v is not None:
                    g.attrs[k] = v
            for k, v in point.get("derived", {}).items():
                v = to_attr(v)
                if v is not None and k not in g.attrs:
                    g.attrs[k] = v
            g.attrs["method"] = point["method"]
            g.attrs["point_index"] = np.int64(point["index"])
            g.attrs["point_key"] = point["key"]
            g.attrs["status"] = result.status
            if result.reason:
                g.attrs["reason"] = str(result.reason)
            for k, v in result.metrics.items():
                v = to_attr(v)
                if v is not None:
                    g.attrs[k] = v
            for k, a in result.arrays.items():
                g.create_dataset(k, data=np.asarray(a, dtype=np.float64))
        os.replace(tmp, self.path)
        self._done[point["key"]] = result.status


# ------------------------------------------------------------ CLI helpers --
def add_common_args(ap, methods, default_methods=None):
    """Arguments every peer script takes (config mode)."""
    ap.add_argument("config", nargs="?", help="numlab YAML config whose points the peer runs")
    ap.add_argument("-o", "--output", help="HDF5 output (default results/peers/<name>_<peer>.h5)")
    ap.add_argument("--methods", default=",".join(default_methods or methods),
                    help=f"comma-separated subset of: {', '.join(methods)} (default: %(default)s)")
    ap.add_argument("--warmup", type=int, help="untimed runs before the timed ones (default: the config's, else numlab's)")
    ap.add_argument("--repetitions", type=int, help="timed runs (default: the config's, else numlab's)")
    ap.add_argument("--numlab", help="the numlab binary that expands the config (`NUMLAB CONFIG --dry-run --format "
                    "json`; default: $NUMLAB_BIN, $NUMLAB, else build/numlab)")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    ap.add_argument("--resume", action="store_true", help="keep an existing output's points, run the others")
    ap.add_argument("--retry-failed", action="store_true", help="with --resume: run failed points again")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    ap.add_argument("--dry-run", action="store_true", help="print the peer's points and exit")


def parse_methods(text, allowed):
    ms = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in ms if m not in allowed]
    if bad or not ms:
        raise SystemExit(f"unknown method(s) {', '.join(bad) or '(none)'}; expected from {', '.join(allowed)}")
    return ms


def parse_int_list(text, what):
    try:
        return [int(float(x)) if "e" in x.lower() else int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"{what}: expected comma-separated integers, got {text!r}") from None


def output_mode(args):
    if args.overwrite and args.resume:
        raise SystemExit("--resume and --overwrite exclude each other")
    return "overwrite" if args.overwrite else "resume" if args.resume else "new"


def default_output(name, peer):
    return os.path.join("results", "peers", f"{name}_{peer}.h5")


def print_points(points, out=sys.stdout):
    """The peer's points, one a line (as numlab --dry-run lists its own)."""
    print(f"{len(points)} points", file=out)
    for p in points:
        print(f"  [{p['index']:>4}] {p['method']} | "
              + " ".join(f"{k}={format_value(v)}" for k, v in sorted(p["params"].items())), file=out)


def varying_keys(points):
    """The parameters whose values differ between the points (what a progress line shows)."""
    keys = []
    for pt in points:
        for k in pt["params"]:
            if k not in keys:
                keys.append(k)
    return [k for k in keys if len({format_value(pt["params"].get(k)) for pt in points}) > 1]


def run_points(pfile, points, run_one, args, log=print):
    """Runs every point not yet in the file; returns exit code (0, or 3 when a point failed)."""
    failed = 0
    shown_keys = varying_keys(points)
    for i, pt in enumerate(points):
        if pfile.done(pt["key"], getattr(args, "retry_failed", False)):
            continue
        r = run_one(pt)
        pfile.add_point(pt, r)
        failed += r.status == "failed"
        if not args.quiet:
            summary = " ".join(f"{k}={format_value(pt['params'][k])}" for k in shown_keys if k in pt["params"])
            key_metrics = [k for k in r.metrics if k.endswith("_seconds_median")][:3]
            ms = " ".join(f"{k.replace('_seconds_median', '')}={r.metrics[k] * 1e3:.3f}ms" for k in key_metrics)
            extra = f" ({r.reason})" if r.reason else ""
            log(f"[{i + 1}/{len(points)}] {pt['method']} {summary}: {r.status}{extra} {ms}".rstrip(), flush=True)
    return 3 if failed else 0
