# SPDX-License-Identifier: MIT
"""numlab's own machine-readable output, for the scripts that need numlab's facts.

The scripts hold no copy of numlab's schemas, defaults or expansion rules; they
ask the binary:

  * `find_numlab(explicit)`: the binary (explicit path, else $NUMLAB_BIN as
    ./numlab takes it, $NUMLAB, $NUMLAB_BINARY (ctest), build/numlab of this
    checkout); None when there is none.
  * `schema(numlab)`: `numlab --list --format json` (kinds, problem keys,
    methods, options with type, range, default and choices, backends) as a
    `Schema`; None without a binary.
  * `dry_run(numlab, config)`: `numlab CONFIG --dry-run --format json`, the
    points exactly as a run sees them (defaults filled in, derived values,
    HDF5 attributes, point_key).
  * `expand_problems(numlab, kind, problems)`: complete problem maps and their
    derived values (e.g. the effective dominance factor) for problems that are
    not in a config file (a peer's direct mode, the points of an older HDF5
    file), by the dry run of a temporary config made of them.

A failed call raises `NumlabError` with numlab's message (file:line:col: error: ...).
"""
import json
import os
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class NumlabError(RuntimeError):
    """numlab refused the request (a config error: exit 2, message on stderr) or is not runnable."""


def _executable(path):
    return bool(path) and os.path.isfile(path) and os.access(path, os.X_OK)


def find_numlab(explicit=None):
    """The numlab binary: `explicit` (an error when it is not executable), else the first of
    $NUMLAB_BIN, $NUMLAB, $NUMLAB_BINARY and build/numlab of this checkout; None when none is."""
    if explicit:
        if not _executable(explicit):
            raise NumlabError(f"numlab binary '{explicit}' is not an executable file")
        return os.path.abspath(explicit)
    for cand in (os.environ.get("NUMLAB_BIN"), os.environ.get("NUMLAB"), os.environ.get("NUMLAB_BINARY"),
                 os.path.join(ROOT, "build", "numlab")):
        if _executable(cand):
            return os.path.abspath(cand)
    return None


def _json(numlab, args):
    cmd = [numlab] + list(args)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise NumlabError(f"cannot run {numlab}: {e}") from None
    if r.returncode != 0:
        msg = r.stderr.strip() or r.stdout.strip()
        raise NumlabError(f"`{' '.join(cmd)}` failed (exit {r.returncode}): {msg}")
    try:
        return json.loads(r.stdout)
    except ValueError as e:
        raise NumlabError(f"`{' '.join(cmd)}` printed no JSON ({e}): {r.stdout[:200]!r}") from None


def list_json(numlab):
    """`numlab --list --format json` as a dict."""
    return _json(numlab, ["--list", "--format", "json"])


def dry_run(numlab, config_path, shard=None):
    """`numlab CONFIG --dry-run --format json [--shard i/n]` as a dict."""
    args = [config_path, "--dry-run", "--format", "json"]
    if shard:
        args += ["--shard", shard]
    return _json(numlab, args)


def dry_run_text(numlab, text, directory=None):
    """The dry run of a config given as text (written to a temporary file in `directory`, where
    relative input paths resolve)."""
    fd, path = tempfile.mkstemp(prefix=".numlab_dry_", suffix=".yaml", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        return dry_run(numlab, path)
    finally:
        os.unlink(path)


class Schema:
    """`numlab --list --format json`, indexed: kinds, their problem parameters and methods."""

    def __init__(self, doc):
        self.doc = doc
        self.kinds = {k["kind"]: k for k in doc.get("kinds", [])}

    def settings(self):
        return {p["key"]: p for p in self.doc.get("settings", [])}

    def setting_default(self, key):
        p = self.settings().get(key)
        return None if p is None else p.get("default")

    def problem_params(self, kind):
        return list(self.kinds.get(kind, {}).get("problem", []))

    def problem_keys(self, kind):
        return [p["key"] for p in self.problem_params(kind)]

    def methods(self, kind):
        return list(self.kinds.get(kind, {}).get("methods", []))

    def method_names(self, kind=None):
        kinds = [kind] if kind else list(self.kinds)
        return [m["name"] for k in kinds for m in self.methods(k)]

    def method(self, kind, name):
        return next((m for m in self.methods(kind) if m["name"] == name), None)

    def kind_of_method(self, name):
        return next((k for k in self.kinds if self.method(k, name) is not None), None)

    def options(self, kind, method):
        m = self.method(kind, method)
        return list(m.get("options", [])) if m else []

    def option(self, kind, method, key):
        return next((o for o in self.options(kind, method) if o["key"] == key), None)

    def option_default(self, kind, method, key):
        """(known, default) of a method option; known False where the method or option is not numlab's."""
        o = self.option(kind, method, key)
        return (False, None) if o is None else (True, o.get("default"))

    def param(self, kind, key, method=None):
        """The parameter `key` of the kind's problem, else of the method's options (any method's when
        method is None); None when numlab has none of that name."""
        p = next((p for p in self.problem_params(kind) if p["key"] == key), None)
        if p is not None:
            return p
        for m in ([self.method(kind, method)] if method else self.methods(kind)):
            o = next((o for o in (m or {}).get("options", []) if o["key"] == key), None)
            if o is not None:
                return o
        return None

    def typed(self, kind, key, value, method=None):
        """value as the Python type of numlab's parameter (integer -> int, real -> float, boolean -> bool,
        string / choice -> str); unknown keys and None are returned as they are."""
        p = self.param(kind, key, method)
        if p is None or value is None:
            return value
        t = p.get("type")
        try:
            if t == "integer":
                return int(value)
            if t == "real":
                return float(value)
            if t == "boolean":
                if isinstance(value, str):
                    return value.strip().lower() in ("1", "true", "yes", "on")
                return bool(value)
            if t in ("string", "choice"):
                return value.decode() if isinstance(value, bytes) else str(value)
        except (TypeError, ValueError):
            return value
        return value


_SCHEMAS = {}


def schema(numlab=None):
    """The Schema of `numlab` (found with find_numlab when None); None without a binary or when its
    --list fails. Cached per binary."""
    try:
        numlab = find_numlab(numlab)
    except NumlabError:
        return None
    if numlab is None:
        return None
    if numlab not in _SCHEMAS:
        try:
            _SCHEMAS[numlab] = Schema(list_json(numlab))
        except NumlabError:
            _SCHEMAS[numlab] = None
    return _SCHEMAS[numlab]


def _fmt(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _same_problem(given, got):
    return all(k in got and _fmt(got[k]) == _fmt(v) for k, v in given.items())


def expand_problems(numlab, kind, problems, directory=None, backend=None, method=None):
    """[(complete problem, derived)] for the problem maps `problems` (keys: numlab's problem keys),
    as numlab's dry run expands them: defaults filled in, derived values computed, every value
    validated. One dry run per set of keys: a temporary config that zips the problems, with the
    kind's first method (or `method`; and `backend`, when given). Raises NumlabError (numlab's
    message) when numlab rejects one."""
    sch = schema(numlab)
    if sch is None:
        raise NumlabError("no numlab binary to expand the problems with")
    methods = [method] if method else sch.method_names(kind)
    if not methods:
        raise NumlabError(f"numlab has no kind {kind!r}")
    problems = [{k: sch.typed(kind, k, v) for k, v in p.items()} for p in problems]
    out = [None] * len(problems)
    groups = {}
    for i, p in enumerate(problems):
        groups.setdefault(tuple(sorted(p)), []).append(i)
    for keys, idx in groups.items():
        if not keys:
            cfg = {"name": "expand", "kind": kind, "methods": [methods[0]]}
        else:
            cfg = {"name": "expand", "kind": kind, "methods": [methods[0]],
                   "sweep": {"zip": {k: [problems[i][k] for i in idx] for k in keys}}}
        if backend:
            cfg["backend"] = backend
        doc = dry_run_text(numlab, json.dumps(cfg), directory)
        for i in idx:
            hit = next((q for q in doc["points"] if _same_problem(problems[i], q["problem"])), None)
            if hit is None:
                raise NumlabError(f"numlab's expansion has no point of the problem {problems[i]}")
            out[i] = (hit["problem"], hit.get("derived", {}))
    return out


def expand_problems_any_backend(numlab, kind, problems, directory=None):
    """expand_problems with the defaults, else with each backend and method of the kind in turn
    (a problem only one backend runs, e.g. bfloat16 on cuda_native). Raises the first refusal's
    NumlabError when none accepts the problems."""
    sch = schema(numlab)
    if sch is None:
        raise NumlabError("no numlab binary to expand the problems with")
    attempts = [(None, None)] + [(b, m) for b in sch.kinds.get(kind, {}).get("backends", [])
                                 for m in sch.method_names(kind)]
    first = None
    for backend, method in attempts:
        try:
            return expand_problems(numlab, kind, problems, directory=directory, backend=backend, method=method)
        except NumlabError as e:
            first = first or e
    raise first
