# SPDX-License-Identifier: MIT
"""Shared code of numlab's peer scripts (no torch here: tested on any machine).

A peer script runs another library (PyTorch SDPA, SciPy, ...) on the same
problems as a numlab config and writes numlab's HDF5 schema, so a plot that
reads numlab's file reads the peer's file too:

  * `load_config(path)`: reads a numlab YAML config and expands its points
    exactly as numlab does (src/core/config.cpp: fixed problem keys, `sweep`
    product (first axis outermost) x zip rows, defaults, one point per method,
    duplicates dropped, points grouped by problem). `load_config(path,
    numlab=BIN)` takes numlab's own expansion from `BIN CONFIG --dry-run`
    instead (also the fallback when PyYAML is missing).
  * `peer_points(...)`: the peer's points: every problem of the config times
    the peer's methods (tile-based peer methods once per distinct tile pair
    numlab runs on that problem).
  * `PeerFile`: root attributes (schema_version 1, peer, kind, name, device,
    host, versions, ...) and one group /points/pNNNNNN per finished point, added
    to a copy of the file that then replaces it (an interrupted run keeps every
    finished point, as numlab's files do).
  * timing statistics and metric names shared by the peers.

Attribute types follow numlab: integers int64, reals float64, booleans int8
(0/1), strings variable-length UTF-8.
"""
import datetime
import math
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

SCHEMA_VERSION = 1
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


class ConfigError(ValueError):
    """A config the peers cannot expand (numlab would reject it too)."""


# ---------------------------------------------------------------- schemas --
# Mirrors of the problem schemas in src/attention/attention_experiment.cpp and
# src/linsolve/linsolve_experiment.cpp: key -> (type, default, section, optional).
# type: int | real | bool | str. A default of None means "no default".
ATTENTION_PROBLEM = OrderedDict([
    ("B", ("int", 1, "shape", False)),
    ("H", ("int", 1, "shape", False)),
    ("N", ("int", None, "shape", True)),
    ("N_kv", ("int", None, "shape", True)),
    ("D", ("int", None, "shape", True)),
    ("dtype", ("str", "float32", "", False)),
    ("causal", ("bool", False, "", False)),
    ("seed", ("int", 0, "", False)),
    ("reference", ("bool", True, "", False)),
    ("path", ("str", None, "inputs", True)),
])

LINSOLVE_PROBLEM = OrderedDict([
    ("generator", ("str", "random_sparse", "matrix", False)),
    ("N", ("int", None, "matrix", True)),
    ("density", ("real", 0.01, "matrix", False)),
    ("dominance", ("str", "strict", "matrix", False)),
    ("dominance_factor", ("real", None, "matrix", True)),
    ("seed", ("int", 42, "matrix", False)),
    ("path", ("str", None, "matrix", True)),
    ("rhs", ("str", None, "matrix", True)),
    ("solution", ("str", None, "matrix", True)),
])

PROBLEM_SCHEMAS = {"attention": ATTENTION_PROBLEM, "linsolve": LINSOLVE_PROBLEM}

_TILES = OrderedDict([("tile_q", ("int", 64)), ("tile_k", ("int", 64))])
# Method options of numlab's methods (src/*/methods/*.hpp): key -> (type, default).
# A method not listed here (added to numlab later) takes the options its entry
# gives and any swept method option; its other defaults are unknown here.
METHOD_OPTIONS = {
    "attention": {
        "standard": OrderedDict([("max_gib", ("real", 8.0))]),
        "tiled": _TILES,
        "flash": _TILES,
        "tiled_bwd": _TILES,
        "flash_bwd": OrderedDict(list(_TILES.items()) + [("dq", ("str", "atomic"))]),
    },
    "linsolve": {
        "gauss_elim": OrderedDict([("block_size", ("int", 0)), ("leaf_width", ("int", 0)),
                                   ("panel_kernel", ("str", "auto")), ("max_dense_gib", ("real", 16.0))]),
        "gauss_seidel": OrderedDict([
            ("variant", ("str", "sequential")), ("direction", ("str", "forward")), ("omega", ("real", 1.0)),
            ("tol", ("real", 1e-10)), ("max_iter", ("int", 1000)), ("divtol", ("real", 1e5)),
            ("check_every", ("int", 1)), ("coloring", ("str", "greedy")),
            ("spectral_radius", ("bool", True)), ("spectral_iters", ("int", 100))]),
        "reference": OrderedDict([("max_dense_gib", ("real", 16.0))]),
    },
}

COMMON_KEYS = ("name", "kind", "description", "output", "warmup", "repetitions", "save_outputs", "backend",
               "sweep", "methods")


# ------------------------------------------------------------ values -------
def coerce(value, typ, where):
    """A YAML value (as PyYAML gives it, or a string) as numlab reads it."""
    if typ == "int":
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            s = value.strip()
            try:
                return int(s, 0) if s.lower().startswith(("0x", "0o")) else int(s)
            except ValueError:
                pass
            try:  # 1e6-style integers that are exact, as numlab accepts
                d = float(s)
                if ("e" in s.lower()) and d.is_integer():
                    return int(d)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if typ == "real":
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
        if math.isnan(x):
            raise ConfigError(f"{where}: expected a number, got nan")
        return x
    if typ == "bool":
        if isinstance(value, bool):
            return value
        s = str(value).strip().lower()
        if s in ("true", "yes", "on", "y"):
            return True
        if s in ("false", "no", "off", "n"):
            return False
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if value is None:
        raise ConfigError(f"{where}: expected a string, got nothing (null)")
    if isinstance(value, bool):  # PyYAML 1.1 reads on/off/yes/no as booleans
        return "true" if value else "false"
    return str(value)


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


# ------------------------------------------------------------ config -------
class NumlabConfig:
    """A numlab config and its expanded points (numlab's order and indices).

    points: list of dicts {index, method, problem, options}; problems: the
    distinct problem maps in the order numlab runs them."""

    def __init__(self, path, text, kind, name, warmup, repetitions, output, points, expansion):
        self.path = path
        self.text = text
        self.dir = os.path.dirname(os.path.abspath(path)) if path else ""
        self.kind = kind
        self.name = name
        self.warmup = warmup
        self.repetitions = repetitions
        self.output = output
        self.points = points
        self.expansion = expansion  # 'python' or 'numlab --dry-run'
        self.problems = []
        seen = set()
        for p in points:
            k = canonical_key(p["problem"])
            if k not in seen:
                seen.add(k)
                self.problems.append(p["problem"])

    def points_of(self, problem):
        k = canonical_key(problem)
        return [p for p in self.points if canonical_key(p["problem"]) == k]

    def resolve_path(self, path):
        """numlab's resolve_input_path: relative paths beside the config first."""
        if os.path.isabs(path) or not self.dir:
            return path
        beside = os.path.join(self.dir, path)
        return beside if os.path.exists(beside) else path


def _top_scalars(text):
    """Top-level `key: scalar` lines of a block-style YAML mapping (no PyYAML)."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([^#{\[]*?)\s*(#.*)?$", line)
        if m and m.group(2) != "":
            out[m.group(1)] = m.group(2).strip().strip("'\"")
    return out


def _import_yaml():
    try:
        import yaml  # noqa: F401
        return yaml
    except ImportError:
        return None


def default_numlab():
    """numlab binary of this checkout, if built (NUMLAB env var overrides)."""
    for cand in (os.environ.get("NUMLAB"), os.path.join(ROOT, "build", "numlab")):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


def load_config_of_kind(args, kind):
    """The peer run's CONFIG (args.config, numlab from args.numlab); exits naming the file unless
    the config is of `kind`."""
    cfg = load_config(args.config, numlab=args.numlab)
    if cfg.kind != kind:
        raise SystemExit(f"{args.config}: kind {cfg.kind}, expected {kind}")
    return cfg


def timing_counts(args, cfg):
    """(warmup, repetitions): the command line's, else the config's (cfg None: direct mode), else
    numlab's defaults 1 and 5."""
    warmup = args.warmup if args.warmup is not None else (cfg.warmup if cfg is not None else 1)
    reps = args.repetitions if args.repetitions is not None else (cfg.repetitions if cfg is not None else 5)
    return warmup, reps


def load_config(path, numlab=None):
    """Reads and expands a numlab config.

    numlab=None: the Python mirror of numlab's expansion (needs PyYAML; falls back
    to numlab --dry-run of this checkout's build when PyYAML is missing).
    numlab=PATH: the points as `PATH CONFIG --dry-run` prints them."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    yaml = _import_yaml()
    if numlab is None and yaml is None:
        numlab = default_numlab()
        if numlab is None:
            raise ConfigError(f"{path}: PyYAML is not importable and no numlab binary was found to expand the "
                              "config (pass --numlab BUILD/numlab, set NUMLAB, or install python3-yaml)")
    if numlab is not None:
        return _load_with_numlab(path, text, numlab, yaml)
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the config must be a YAML mapping")
    points = expand(raw, path)
    kind = raw["kind"]
    name = str(raw.get("name"))
    warmup = coerce(raw.get("warmup", 1), "int", "warmup") if raw.get("warmup") is not None else 1
    reps = coerce(raw.get("repetitions", 5), "int", "repetitions") if raw.get("repetitions") is not None else 5
    output = str(raw.get("output") or f"results/{name}.h5")
    return NumlabConfig(path, text, kind, name, warmup, reps, output, points, "python")


def expand(raw, path="<config>"):
    """numlab's expansion of a parsed config (src/core/config.cpp Parser::parse)."""
    kind = raw.get("kind")
    if kind not in PROBLEM_SCHEMAS:
        raise ConfigError(f"{path}: kind {kind!r}: expected one of {', '.join(PROBLEM_SCHEMAS)}")
    schema = PROBLEM_SCHEMAS[kind]
    methods_opts = METHOD_OPTIONS[kind]
    sections = OrderedDict()
    for key, (_, _, section, _) in schema.items():
        if section:
            sections.setdefault(section, []).append(key)

    # Fixed problem keys, in sections and at top level.
    fixed = {}
    for section, keys in sections.items():
        node = raw.get(section)
        if node is None:
            continue
        if not isinstance(node, dict):
            raise ConfigError(f"{path}: '{section}': expected a mapping")
        for k, v in node.items():
            if k not in keys:
                raise ConfigError(f"{path}: key '{k}': unknown key in '{section}'")
            typ, _, _, optional = schema[k]
            if v is None and optional:
                continue
            fixed[k] = coerce(v, typ, f"{section}.{k}")
    for k, (typ, _, section, optional) in schema.items():
        if section or k not in raw:
            continue
        if raw[k] is None and optional:
            continue
        fixed[k] = coerce(raw[k], typ, k)

    # Methods: (name, given options).
    mnode = raw.get("methods")
    if not isinstance(mnode, list) or not mnode:
        raise ConfigError(f"{path}: 'methods': expected a non-empty list")
    entries = []
    for i, e in enumerate(mnode):
        if isinstance(e, str):
            entries.append((e, {}))
        elif isinstance(e, dict) and "name" in e:
            name = str(e["name"])
            known = methods_opts.get(name, {})
            given = {}
            for k, v in e.items():
                if k == "name":
                    continue
                typ = known[k][0] if k in known else _option_type(kind, k, v)
                given[k] = coerce(v, typ, f"methods[{i}].{k}")
            entries.append((name, given))
        else:
            raise ConfigError(f"{path}: methods[{i}]: expected a method name or a mapping with 'name'")

    # Sweep axes.
    product_axes, zip_axes = [], []
    sweep = raw.get("sweep")
    if sweep is not None:
        if not isinstance(sweep, dict):
            raise ConfigError(f"{path}: 'sweep': expected a mapping")
        for block, axes in sweep.items():
            if block not in ("product", "zip"):
                raise ConfigError(f"{path}: key '{block}': unknown key in 'sweep'; allowed: product, zip")
            if not isinstance(axes, dict):
                raise ConfigError(f"{path}: 'sweep.{block}': expected a mapping")
            for k, values in axes.items():
                if not isinstance(values, list) or not values:
                    raise ConfigError(f"{path}: sweep.{block}.{k}: expected a non-empty list")
                typ = schema[k][0] if k in schema else _option_type(kind, k, values[0])
                vals = [coerce(v, typ, f"sweep.{block}.{k}[{j}]") for j, v in enumerate(values)]
                (product_axes if block == "product" else zip_axes).append((k, vals))
        if zip_axes and len({len(v) for _, v in zip_axes}) != 1:
            raise ConfigError(f"{path}: sweep.zip: zipped lists must have equal lengths")
    axis_keys = [k for k, _ in product_axes + zip_axes]
    for k in axis_keys:
        if k in fixed:
            raise ConfigError(f"{path}: key '{k}': given both as a fixed value and as a sweep axis")

    combos = [OrderedDict()]
    for k, vals in product_axes:
        combos = [OrderedDict(list(c.items()) + [(k, v)]) for c in combos for v in vals]
    if zip_axes:
        rows = len(zip_axes[0][1])
        combos = [OrderedDict(list(c.items()) + [(k, vals[r]) for k, vals in zip_axes])
                  for c in combos for r in range(rows)]

    # Points: per combo, per method; grouped by problem (first appearance).
    order, by_problem, point_keys = [], {}, set()
    for combo in combos:
        problem = dict(fixed)
        method_axes = {}
        for k, v in combo.items():
            (problem if k in schema else method_axes)[k] = v
        for k, (typ, default, section, optional) in schema.items():
            if k in problem:
                continue
            if default is not None:
                problem[k] = default
            elif not optional:
                raise ConfigError(f"{path}: key '{k}': missing")
        _validate_problem(kind, problem, path)
        for name, given in entries:
            known = methods_opts.get(name)
            options = {}
            if known is not None:
                for k, (typ, default) in known.items():
                    if k in given:
                        options[k] = given[k]
                    elif k in method_axes:
                        options[k] = method_axes[k]
                    elif default is not None:
                        options[k] = default
            else:  # unknown to this mirror: what its entry gives and every swept option
                options = dict(method_axes)
                options.update(given)
            attrs = dict(problem)
            attrs.update(options)
            attrs["method"] = name
            key = canonical_key(attrs)
            if key in point_keys:
                continue
            point_keys.add(key)
            pk = canonical_key(problem)
            if pk not in by_problem:
                order.append(pk)
                by_problem[pk] = []
            by_problem[pk].append({"method": name, "problem": problem, "options": options})
    points = []
    for pk in order:
        for p in by_problem[pk]:
            p["index"] = len(points)
            points.append(p)
    return points


def _option_type(kind, key, sample):
    for opts in METHOD_OPTIONS[kind].values():
        if key in opts:
            return opts[key][0]
    if isinstance(sample, bool):
        return "bool"
    if isinstance(sample, int):
        return "int"
    if isinstance(sample, float):
        return "real"
    return "str"


def _validate_problem(kind, problem, path):
    if kind == "linsolve":
        gen = problem.get("generator")
        if gen == "matrix_market":
            if "path" not in problem:
                raise ConfigError(f"{path}: generator matrix_market needs matrix.path")
        elif "N" not in problem:
            raise ConfigError(f"{path}: generator {gen} needs N (in 'matrix' or as a sweep axis)")
    elif kind == "attention" and "path" not in problem:
        for k in ("N", "D"):
            if k not in problem:
                raise ConfigError(f"{path}: shape.{k} is required unless inputs.path is given")


_DRY_HEADER = re.compile(r"^(?P<path>.*): kind (?P<kind>\S+), (?P<n>\d+) points.*, output (?P<output>.*)$")
_DRY_POINT = re.compile(r"^\s*\[\s*(?P<index>\d+)\]\s+(?P<method>\S+)(?P<opts>(?:\s+[^\s|=]+=\S*)*)\s+\|(?P<prob>.*)$")


def parse_dry_run(text, kind=None):
    """numlab's `--dry-run` listing -> (kind, output, points as expand() gives them)."""
    out_kind, output, points = kind, None, []
    for line in text.splitlines():
        m = _DRY_HEADER.match(line)
        if m:
            out_kind, output = m.group("kind"), m.group("output").strip()
            continue
        m = _DRY_POINT.match(line)
        if not m:
            continue
        schema = PROBLEM_SCHEMAS.get(out_kind, {})
        problem = {}
        for tok in m.group("prob").split():
            k, _, v = tok.partition("=")
            problem[k] = coerce(v, schema[k][0], k) if k in schema else _guess(v)
        options = {}
        for tok in m.group("opts").split():
            k, _, v = tok.partition("=")
            typ = None
            for opts in METHOD_OPTIONS.get(out_kind, {}).values():
                if k in opts:
                    typ = opts[k][0]
            options[k] = coerce(v, typ, k) if typ else _guess(v)
        points.append({"index": int(m.group("index")), "method": m.group("method"), "problem": problem,
                       "options": options})
    return out_kind, output, points


def _guess(s):
    if s in ("true", "false"):
        return s == "true"
    for conv in (int, float):
        try:
            return conv(s)
        except ValueError:
            pass
    return s


def dry_run(numlab, config_path):
    """stdout of `numlab CONFIG --dry-run` (raises ConfigError with numlab's message)."""
    r = subprocess.run([numlab, config_path, "--dry-run"], capture_output=True, text=True)
    if r.returncode != 0:
        raise ConfigError(f"{numlab} {config_path} --dry-run failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def _load_with_numlab(path, text, numlab, yaml):
    kind, output, points = parse_dry_run(dry_run(numlab, path))
    if yaml is not None:
        raw = yaml.safe_load(text) or {}
        top = {k: raw.get(k) for k in ("name", "warmup", "repetitions")}
    else:
        top = _top_scalars(text)
    name = str(top.get("name") or os.path.splitext(os.path.basename(output or path))[0])
    warmup = coerce(top["warmup"], "int", "warmup") if top.get("warmup") not in (None, "") else 1
    reps = coerce(top["repetitions"], "int", "repetitions") if top.get("repetitions") not in (None, "") else 5
    return NumlabConfig(path, text, kind, name, warmup, reps, output, points, "numlab --dry-run")


# ------------------------------------------------------------ peer points --
def tile_pairs(cfg, problem):
    """Distinct (tile_q, tile_k) of numlab's points on `problem`, first appearance first."""
    pairs = []
    for p in cfg.points_of(problem):
        o = p["options"]
        if "tile_q" in o and "tile_k" in o:
            t = (int(o["tile_q"]), int(o["tile_k"]))
            if t not in pairs:
                pairs.append(t)
    return pairs


def peer_points(problems, methods, tiled_methods=(), tiles_of=None, default_tiles=((128, 128),)):
    """The peer's points: problem-major, then method (numlab groups by problem too).

    problems: list of problem dicts; methods: peer method names; tiled_methods:
    those that take tile_q / tile_k; tiles_of(problem) -> [(tile_q, tile_k)]
    (empty: default_tiles). Returns dicts {index, method, params, key}."""
    out = []
    for problem in problems:
        for m in methods:
            if m in tiled_methods:
                pairs = (tiles_of(problem) if tiles_of else []) or list(default_tiles)
                variants = [{"tile_q": tq, "tile_k": tk} for tq, tk in pairs]
            else:
                variants = [{}]
            for extra in variants:
                params = dict(problem)
                params.update(extra)
                attrs = dict(params)
                attrs["method"] = m
                out.append({"index": len(out), "method": m, "params": params, "key": canonical_key(attrs)})
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
    ap.add_argument("--warmup", type=int, help="untimed runs before the timed ones (default: the config's, else 1)")
    ap.add_argument("--repetitions", type=int, help="timed runs (default: the config's, else 5)")
    ap.add_argument("--numlab", help="expand the config with `NUMLAB CONFIG --dry-run` instead of the Python mirror")
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


def run_points(pfile, points, run_one, args, log=print):
    """Runs every point not yet in the file; returns exit code (0, or 3 when a point failed)."""
    failed = 0
    for i, pt in enumerate(points):
        if pfile.done(pt["key"], getattr(args, "retry_failed", False)):
            continue
        r = run_one(pt)
        pfile.add_point(pt, r)
        failed += r.status == "failed"
        if not args.quiet:
            shown = {k: v for k, v in pt["params"].items() if k in ("B", "H", "N", "N_kv", "D", "dtype", "causal",
                                                                     "tile_q", "tile_k", "density", "generator",
                                                                     "dominance", "dominance_factor")}
            summary = " ".join(f"{k}={format_value(v)}" for k, v in shown.items())
            key_metrics = [k for k in r.metrics if k.endswith("_seconds_median")][:3]
            ms = " ".join(f"{k.replace('_seconds_median', '')}={r.metrics[k] * 1e3:.3f}ms" for k in key_metrics)
            extra = f" ({r.reason})" if r.reason else ""
            log(f"[{i + 1}/{len(points)}] {pt['method']} {summary}: {r.status}{extra} {ms}".rstrip(), flush=True)
    return 3 if failed else 0
