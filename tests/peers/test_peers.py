#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Tests of the peer scripts (scripts/peers), registered with ctest.

  test_peers.py --numlab BUILD/numlab           host tests: config expansion vs
        `numlab --dry-run` on every shipped config and on synthetic ones, the
        SciPy peer on a tiny config (schema, accuracy, overlay with numlab's own
        output), the linear-system generators, file modes; the torch scripts
        compile and fail cleanly without torch.
  test_peers.py --torch [--numlab BUILD/numlab] torch tests: exit 77 (ctest SKIP)
        when torch does not import; on a GPU the torch peers on tiny problems
        (schema, errors vs fp64, TF32 off); without one the lab algorithms and
        the scripts on the CPU.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PEERS = os.path.join(ROOT, "scripts", "peers")
SKIP = 77
NUMLAB = None

try:
    import h5py
    import numpy as np
    import scipy  # noqa: F401
    _STACK_ERROR = None
except ImportError as e:
    _STACK_ERROR = e

sys.path.insert(0, PEERS)
sys.path.insert(0, os.path.join(ROOT, "scripts"))


def run(args, **kw):
    return subprocess.run([sys.executable] + args, capture_output=True, text=True, **kw)


def points_of(path):
    with h5py.File(path, "r") as f:
        root = {k: v for k, v in f.attrs.items()}
        pts = []
        for name, g in f["points"].items():
            d = {k: v for k, v in g.attrs.items()}
            d["_group"] = name
            d["_datasets"] = {k: np.asarray(g[k]) for k in g}
            pts.append(d)
    return root, pts


def write(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


SYNTHETIC = {
    "lin_zip.yaml": """name: lin_zip
kind: linsolve
warmup: 0
repetitions: 1
sweep:
  product: {density: [0.02, 5.0e-2]}
  zip: {N: [40, 1e2], seed: [1, 2]}
matrix: {generator: random_sparse, dominance: weak}
methods:
  - gauss_elim
  - {name: gauss_seidel, variant: multicolor}
""",
    "lin_omega.yaml": """name: lin_omega
kind: linsolve
sweep:
  product: {omega: [1.0, 1.5], dominance_factor: [2, 0.8]}
matrix: {N: 30, density: 0.1, seed: 3}
methods: [{name: gauss_seidel, tol: 1e-8}, reference]
""",
    "attn_tiles.yaml": """name: attn_tiles
kind: attention
sweep:
  product: {causal: [false, true], tile_q: [16, 32]}
  zip: {N: [40, 64], N_kv: [50, 64]}
shape: {B: 1, H: 2, D: 16}
dtype: float64
seed: 5
methods:
  - standard
  - tiled
  - {name: flash, tile_k: 8}
  - {name: flash_bwd, dq: separate}
""",
    "attn_only_standard.yaml": """name: attn_std
kind: attention
sweep:
  product: {N: [32, 48]}
shape: {B: 2, H: 1, D: 8}
reference: false
methods: [standard]
""",
}

TINY_LINSOLVE = """name: peers_tiny
kind: linsolve
warmup: 1
repetitions: 2
sweep:
  product: {N: [64, 144], generator: [random_sparse, poisson2d]}
matrix: {density: 0.05, dominance: strict, seed: 11}
methods: [gauss_elim, reference]
"""


def numlab_json(*args):
    """numlab's own JSON, read here without the peers' loader: (exit code, dict or stderr)."""
    r = subprocess.run([NUMLAB] + list(args), capture_output=True, text=True)
    return r.returncode, (json.loads(r.stdout) if r.returncode == 0 else r.stderr.strip())


def shipped_configs():
    return (sorted(glob.glob(os.path.join(ROOT, "configs", "*.yaml")))
            + sorted(glob.glob(os.path.join(ROOT, "tests", "data", "*.yaml"))))


def view(values):
    """A parameter map as numlab prints it (values compared as text: 2 == 2.0, true != 1)."""
    import peer_h5
    return {k: peer_h5.format_value(v) for k, v in values.items()}


# The HDF5 attribute type of each --list parameter type (numlab's attribute typing).
H5_TYPES = {"integer": np.int64, "real": np.float64, "boolean": np.int8, "string": str, "choice": str}


def non_default(param):
    """A valid value of a --list parameter other than its default (None: none to pick)."""
    t, d = param["type"], param.get("default")
    if t == "choice":
        return next((c["name"] for c in param["choices"] if c["name"] != d), None)
    if t == "boolean":
        return not d
    if t not in ("integer", "real"):
        return None
    lo, hi = param.get("min"), param.get("max")

    def ok(v):
        return (v != d and (lo is None or v > lo or (v == lo and not param.get("min_exclusive")))
                and (hi is None or v < hi or (v == hi and not param.get("max_exclusive"))))
    if t == "integer":
        cands = [(d or 0) + 1, (d or 0) - 1, int(lo) if lo is not None else 1]
    else:
        cands = [d * 0.5 if d else 0.5, (d or 0) + 0.25, ((lo or 0) + (hi if hi is not None else 1)) / 2]
    return next((v for v in cands if ok(v)), None)


def tiny_problem(kind):
    """The smallest problem of each kind (a section map), for the configs the tests make."""
    return {"attention": {"shape": {"B": 1, "H": 2, "N": 16, "D": 8}},
            "linsolve": {"matrix": {"N": 24, "density": 0.2}}}[kind]


@unittest.skipIf(_STACK_ERROR is not None, f"numpy / scipy / h5py missing: {_STACK_ERROR}")
class Expansion(unittest.TestCase):
    """The peers take every point from numlab's JSON: the same points, keys and attributes as
    `numlab CONFIG --dry-run --format json`, which is what a run writes."""

    @classmethod
    def setUpClass(cls):
        import numlab_cli
        rc, doc = numlab_json("--list", "--format", "json")
        assert rc == 0, doc
        cls.schema = numlab_cli.Schema(doc)
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def assert_same_points(self, cfg, doc):
        """The loader's points (its own key and attribute maps) are numlab's JSON points."""
        import peer_h5
        sch = self.schema
        self.assertEqual((cfg.kind, cfg.name, cfg.warmup, cfg.repetitions, cfg.output),
                         (doc["kind"], doc["name"], doc["warmup"], doc["repetitions"], doc["output"]))
        mine = [(p["index"], p["method"], p["key"], view(p["attributes"])) for p in cfg.points]
        theirs = [(p["index"], p["method"], p["point_key"], view(p["attributes"])) for p in doc["points"]]
        self.assertEqual(mine, theirs)
        self.assertEqual(len(cfg.points), doc["total_points"])
        order = []
        for p in doc["points"]:
            k = peer_h5.canonical_key(p["problem"])
            if k not in order:
                order.append(k)
        self.assertEqual([peer_h5.canonical_key(q) for q in cfg.problems], order)
        for p, q in zip(cfg.points, doc["points"]):
            self.assertEqual(view(cfg.derived_of(p["problem"])), view(q["derived"]))
            for k, v in p["attributes"].items():  # written with numlab's attribute types
                param = sch.param(cfg.kind, k, p["method"])
                if param is not None:
                    self.assertIsInstance(peer_h5.to_attr(v), H5_TYPES[param["type"]], f"{p['method']}.{k}")

    def test_every_config_expands_as_numlab(self):
        """Every shipped config (configs/, tests/data) and the synthetic ones, through the loader."""
        import peer_h5
        paths = shipped_configs() + [write(self.tmp.name, n, t) for n, t in SYNTHETIC.items()]
        compared = 0
        for path in paths:
            with self.subTest(config=os.path.relpath(path, ROOT)):
                rc, doc = numlab_json(path, "--dry-run", "--format", "json")
                if rc != 0:  # numlab rejects it (e.g. a backend this build lacks): so do the peers, with its words
                    with self.assertRaises(peer_h5.ConfigError) as cm:
                        peer_h5.load_config(path, numlab=NUMLAB)
                    self.assertIn(doc.splitlines()[-1], str(cm.exception))
                    continue
                self.assert_same_points(peer_h5.load_config(path, numlab=NUMLAB), doc)
                compared += 1
        self.assertGreaterEqual(compared, len(shipped_configs()) // 2, "most shipped configs expand on this build")

    def test_json_is_what_the_run_writes(self):
        """Tiny configs with every method numlab lists (and every dominance level) run for real:
        the file's point_key, parameter and derived attributes are the JSON's and the loader's."""
        import numlab_cli
        import peer_h5
        sch = self.schema
        for kind in sch.kinds:
            with self.subTest(kind=kind):
                raw = dict(tiny_problem(kind), name=f"run_{kind}", kind=kind, warmup=0, repetitions=1,
                           methods=sch.method_names(kind))
                # Sweep every choice-typed problem parameter numlab lists that the tiny problem leaves open,
                # unless it changes what the problem needs (a generator reading a file).
                axes = {}
                for prm in sch.problem_params(kind):
                    if prm["type"] in ("choice", "boolean") and prm["key"] not in str(raw):
                        vals = [c["name"] for c in prm.get("choices", [])] or [False, True]
                        probe = dict(raw, sweep={"product": {prm["key"]: vals}})
                        probe_path = write(self.tmp.name, "probe.yaml", json.dumps(probe))
                        if numlab_json(probe_path, "--dry-run", "--format", "json")[0] == 0:
                            axes[prm["key"]] = vals
                if axes:
                    raw["sweep"] = {"product": axes}
                path = write(self.tmp.name, f"run_{kind}.yaml", json.dumps(raw))
                rc, doc = numlab_json(path, "--dry-run", "--format", "json")
                self.assertEqual(rc, 0, doc)
                cfg = peer_h5.load_config(path, numlab=NUMLAB)
                self.assert_same_points(cfg, doc)
                out = os.path.join(self.tmp.name, f"run_{kind}.h5")
                r = subprocess.run([NUMLAB, path, "-o", out, "-q", "--overwrite"], capture_output=True, text=True)
                self.assertIn(r.returncode, (0, 3), r.stderr)  # 3: a point failed, its reason recorded
                _, pts = points_of(out)
                by_index = {int(p["point_index"]): p for p in pts}
                self.assertEqual(sorted(by_index), [p["index"] for p in cfg.points])
                problems, derived = [], []
                for p, q in zip(cfg.points, doc["points"]):
                    a = by_index[p["index"]]
                    self.assertEqual(a["point_key"], q["point_key"])
                    self.assertEqual(a["point_key"], p["key"])
                    got = {k: sch.typed(kind, k, peer_h5.decode_attr(a[k]), p["method"])
                           for k in q["attributes"] if k in a}
                    self.assertEqual(view(got), view(q["attributes"]), p["method"])
                    for k, v in q["derived"].items():
                        self.assertEqual(peer_h5.format_value(peer_h5.decode_attr(a[k])), peer_h5.format_value(v), k)
                    # An older file's path: its problem attributes expanded again give the same derived values.
                    problems.append({k: peer_h5.decode_attr(a[k]) for k in sch.problem_keys(kind) if k in a})
                    derived.append(q["derived"])
                again = numlab_cli.expand_problems(NUMLAB, kind, problems)
                self.assertEqual([view(d) for _, d in again], [view(d) for d in derived])

    def test_every_listed_option_propagates(self):
        """No schema in the peers: every option of every method in `--list --format json`, set to a
        value other than its default, reaches the loader's options, attributes and keys as numlab's
        JSON has it (or numlab and the loader both refuse it)."""
        import peer_h5
        sch = self.schema
        propagated = 0
        for kind in sch.kinds:
            for m in sch.methods(kind):
                for o in m["options"]:
                    value = non_default(o)
                    if value is None:
                        continue
                    with self.subTest(kind=kind, method=m["name"], option=o["key"], value=value):
                        raw = dict(tiny_problem(kind), name="opt", kind=kind, methods=[{"name": m["name"],
                                                                                         o["key"]: value}])
                        path = write(self.tmp.name, "opt.yaml", json.dumps(raw))
                        rc, doc = numlab_json(path, "--dry-run", "--format", "json")
                        if rc != 0:
                            self.assertRaises(peer_h5.ConfigError, peer_h5.load_config, path, NUMLAB)
                            continue
                        cfg = peer_h5.load_config(path, numlab=NUMLAB)
                        self.assert_same_points(cfg, doc)
                        for p in cfg.points:
                            self.assertEqual(peer_h5.format_value(p["options"][o["key"]]),
                                             peer_h5.format_value(value))
                            self.assertIn(f"{o['key']}={peer_h5.format_value(value)}", p["key"].split(";"))
                        propagated += 1
        self.assertGreater(propagated, 10)

    def test_no_schema_in_the_loaders(self):
        """The peers' loader and numlab_cli name no problem key, option, choice or method of numlab."""
        sch = self.schema
        names = set()
        for kind in sch.kinds:
            for prm in sch.problem_params(kind):
                names.add(prm["key"])
                names.update(c["name"] for c in prm.get("choices", []))
            for m in sch.methods(kind):
                names.add(m["name"])
                for o in m["options"]:
                    names.add(o["key"])
                    names.update(c["name"] for c in o.get("choices", []))
        for src in (os.path.join(PEERS, "peer_h5.py"), os.path.join(ROOT, "scripts", "numlab_cli.py")):
            with open(src, encoding="utf-8") as f:
                text = f.read()
            with self.subTest(source=os.path.basename(src)):
                found = sorted(n for n in names if f'"{n}"' in text or f"'{n}'" in text)
                self.assertEqual(found, [], f"{src} names numlab's parameters")

    def test_settings(self):
        import peer_h5
        import torch_attention
        c = peer_h5.load_config(os.path.join(ROOT, "configs", "attn_sweep.yaml"), numlab=NUMLAB)
        self.assertEqual((c.name, c.kind, c.warmup, c.repetitions), ("attn_sweep", "attention", 1, 3))
        self.assertEqual(len(c.problems), 3)
        tiles = torch_attention.tile_variants(c, 128)(c.problems[0], "torch_lab_tiled")
        self.assertEqual([(t["tile_q"], t["tile_k"]) for t in tiles],
                         [(64, 64), (128, 64), (64, 128), (128, 128), (64, 256), (128, 256)])
        self.assertIsNone(torch_attention.tile_variants(c, 128)(c.problems[0], "sdpa_math"))

    def test_torch_points_expand_as_numlab(self):
        """The torch peer on the host baselines' config: its points are numlab's problems (all their
        parameters, vs_standard resolved by numlab included), in numlab's problem order, with the lab
        methods at exactly the tiles of numlab's tiled points on each problem; its --dry-run lists them."""
        import peer_h5
        import torch_attention
        path = os.path.join(ROOT, "configs", "attn_host_baselines.yaml")
        rc, doc = numlab_json(path, "--dry-run", "--format", "json")
        self.assertEqual(rc, 0, doc)
        cfg = peer_h5.load_config(path, numlab=NUMLAB)
        methods = ["torch_standard", "torch_lab_tiled", "torch_lab_flash", "torch_lab_tiled_bwd"]
        pts = peer_h5.peer_points(cfg.problems, methods, torch_attention.tile_variants(cfg, 128), cfg.derived_of)
        order = []
        for p in doc["points"]:
            if p["problem"] not in order:
                order.append(p["problem"])
        self.assertEqual([view(q) for q in cfg.problems], [view(q) for q in order])
        self.assertTrue(all(q["vs_standard"] == "always" for q in order))
        for prob in order:
            mine = [p for p in pts if view({k: v for k, v in p["params"].items() if k in prob}) == view(prob)]
            tiles = sorted({(p["options"]["tile_q"], p["options"]["tile_k"]) for p in doc["points"]
                            if p["problem"] == prob and p["method"] == "tiled"})
            for m in methods[1:]:
                got = sorted((p["params"]["tile_q"], p["params"]["tile_k"]) for p in mine if p["method"] == m)
                self.assertEqual(got, tiles, m)
            self.assertEqual(sum(p["method"] == "torch_standard" for p in mine), 1)
            self.assertEqual(len(mine), 1 + 3 * len(tiles))
        r = run([os.path.join(PEERS, "torch_attention.py"), path, "--dry-run", "--numlab", NUMLAB,
                 "--methods", ",".join(methods)])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sum(1 for line in r.stdout.splitlines() if line.strip().startswith("[")), len(pts))

    def test_peer_points(self):
        import peer_h5
        probs = [{"N": 8, "D": 4}, {"N": 16, "D": 4}]

        def variants(p, m):
            if m != "lab":
                return None
            return [{"tile_q": 4}, {"tile_q": 8}] if p["N"] == 8 else [{"tile_q": 128}]
        pts = peer_h5.peer_points(probs, ["a", "lab"], variants, lambda p: {"x_effective": p["N"]})
        self.assertEqual([(p["index"], p["method"], p["params"].get("tile_q")) for p in pts],
                         [(0, "a", None), (1, "lab", 4), (2, "lab", 8), (3, "a", None), (4, "lab", 128)])
        self.assertEqual(len({p["key"] for p in pts}), len(pts))
        self.assertNotIn("x_effective", pts[0]["key"])
        self.assertEqual(pts[3]["derived"], {"x_effective": 16})
        self.assertEqual(peer_h5.format_value(2.0), "2")
        self.assertEqual(peer_h5.format_value(1e-10), "1e-10")
        self.assertEqual(peer_h5.canonical_key({"b": True, "a": 0.05}), "a=0.05;b=true")


@unittest.skipIf(_STACK_ERROR is not None, f"numpy / scipy / h5py missing: {_STACK_ERROR}")
class ScipyPeer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.cfg = write(cls.tmp.name, "peers_tiny.yaml", TINY_LINSOLVE)
        cls.out = os.path.join(cls.tmp.name, "peers_tiny_scipy.h5")
        cls.res = run([os.path.join(PEERS, "scipy_linsolve.py"), cls.cfg, "-o", cls.out, "-q", "--numlab", NUMLAB])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_schema_and_accuracy(self):
        self.assertEqual(self.res.returncode, 0, self.res.stderr)
        root, pts = points_of(self.out)
        self.assertEqual(int(root["schema_version"]), 1)
        self.assertIsInstance(root["schema_version"], np.int64)
        for k in ("peer", "kind", "name", "device", "host", "created_utc", "command_line", "numpy_version",
                  "scipy_version", "config_text"):
            self.assertIn(k, root)
        self.assertEqual((root["peer"], root["kind"], root["name"]), ("scipy", "linsolve", "peers_tiny"))
        self.assertEqual(len(pts), 4 * 2)
        for i, p in enumerate(pts):
            with self.subTest(point=p["_group"]):
                self.assertEqual(p["_group"], f"p{i:06d}")
                self.assertEqual(int(p["point_index"]), i)
                self.assertIn(p["method"], ("scipy_solve", "scipy_spsolve"))
                for k in ("N", "density", "dominance", "seed", "generator", "point_key", "n_rows", "nnz"):
                    self.assertIn(k, p)
                self.assertIsInstance(p["N"], np.int64)
                self.assertEqual(p["status"], "solved", p.get("reason"))
                self.assertLess(p["rel_error"], 1e-10)
                self.assertLess(p["rel_residual"], 1e-12)
                for k in ("solve_seconds_median", "solve_seconds_min", "solve_seconds_mean", "setup_seconds_median"):
                    self.assertGreater(p[k], 0.0)
                self.assertEqual(p["_datasets"]["times_seconds"].shape, (2,))
                self.assertEqual(p["_datasets"]["setup_times_seconds"].shape, (2,))
                if p["method"] == "scipy_solve":
                    self.assertGreater(p["gflops"], 0.0)

    def test_overlay_with_numlab(self):
        """Every numlab point has peer points with the same problem parameters."""
        nl = os.path.join(self.tmp.name, "numlab.h5")
        r = subprocess.run([NUMLAB, self.cfg, "-o", nl, "-q"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        _, npts = points_of(nl)
        _, ppts = points_of(self.out)
        keys = ("N", "density", "dominance", "seed", "generator")
        peer_problems = {tuple(str(p[k]) for k in keys) for p in ppts}
        self.assertEqual({tuple(str(p[k]) for k in keys) for p in npts}, peer_problems)
        for p in npts:  # same matrix size and (poisson2d) the same matrix
            q = next(q for q in ppts if all(str(q[k]) == str(p[k]) for k in keys))
            self.assertEqual(p["n_rows"], q["n_rows"])
            if p["generator"] == "poisson2d":
                self.assertEqual(p["nnz"], q["nnz"])

    def test_existing_output_modes(self):
        r = run([os.path.join(PEERS, "scipy_linsolve.py"), self.cfg, "-o", self.out, "-q"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("already exists", r.stderr)
        before = os.path.getmtime(self.out)
        r = run([os.path.join(PEERS, "scipy_linsolve.py"), self.cfg, "-o", self.out, "-q", "--resume"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.path.getmtime(self.out), before)  # nothing left to run

    def test_direct_mode_skips_large_dense(self):
        out = os.path.join(self.tmp.name, "direct.h5")
        r = run([os.path.join(PEERS, "scipy_linsolve.py"), "--dense", "40", "--poisson", "100", "-o", out, "-q",
                 "--max-dense-gib", "1e-6", "--repetitions", "1", "--warmup", "0"])
        self.assertEqual(r.returncode, 0, r.stderr)
        root, pts = points_of(out)
        self.assertEqual(root["name"], "scipy_linsolve")
        st = {(p["generator"], p["method"]): p["status"] for p in pts}
        self.assertEqual(st[("random_sparse", "scipy_solve")], "skipped")
        self.assertEqual(st[("random_sparse", "scipy_spsolve")], "solved")
        self.assertIn("max-dense-gib", next(p for p in pts if p["status"] == "skipped")["reason"])


@unittest.skipIf(_STACK_ERROR is not None, f"numpy / scipy / h5py missing: {_STACK_ERROR}")
class Generators(unittest.TestCase):
    def test_random_sparse(self):
        import linsys
        import peer_h5
        for dom, margin in (("strict", 0.5), ("weak", 0.0), ("none", -1.0)):
            (prob, derived), = peer_h5.expand_problems("linsolve", [{"generator": "random_sparse", "N": 400,
                                                                     "density": 0.05, "dominance": dom, "seed": 1}],
                                                       NUMLAB)
            a, b, x, _ = linsys.make_system(prob, derived=derived)
            d = linsys.diagnostics(a)
            p = 0.05 * 400 / 399
            mean = 400 + 400 * 399 * p
            self.assertLess(abs(d["nnz"] - mean), 6 * np.sqrt(400 * 399 * p))
            self.assertAlmostEqual(d["dominance_margin"], margin, places=12)
            self.assertTrue(np.all(np.diff(a.indptr) >= 1))
            self.assertTrue(np.allclose(a @ x, b))
            self.assertEqual(a.shape, (400, 400))
            self.assertEqual(np.count_nonzero(a.diagonal()), 400)
        full = linsys.random_sparse(30, 1.0, 2.0, 0)
        self.assertEqual(full.nnz, 900)

    def test_poisson(self):
        import linsys
        self.assertEqual(linsys.poisson_grid(1000000), (1000, 1000))
        self.assertEqual(linsys.poisson_grid(10000000), (3125, 3200))
        self.assertEqual(linsys.poisson_grid(7), (1, 7))
        a = linsys.poisson2d(3, 4).toarray()
        self.assertTrue(np.all(a.diagonal() == 4.0))
        self.assertEqual(a[4, 3], -1.0)   # west of grid (1, 1)
        self.assertEqual(a[4, 1], -1.0)   # south
        self.assertEqual(a[3, 2], 0.0)    # no wrap-around between grid rows

    def test_matrix_market(self):
        import linsys
        a, b, x, _ = linsys.make_system({"generator": "matrix_market", "path": "symmetric.mtx", "seed": 4},
                                        lambda p: os.path.join(ROOT, "tests", "data", p))
        self.assertEqual(a.toarray()[2, 1], -1.5)
        self.assertEqual(a.toarray()[1, 2], -1.5)
        self.assertTrue(np.allclose(a @ x, b))


class TorchScriptsWithoutTorch(unittest.TestCase):
    def test_compile(self):
        for name in ("peer_h5.py", "linsys.py", "scipy_linsolve.py", "torch_attention.py", "torch_linsolve.py"):
            path = os.path.join(PEERS, name)
            with open(path, encoding="utf-8") as f:
                compile(f.read(), path, "exec")  # a syntax error raises

    @unittest.skipIf(_STACK_ERROR is not None, f"numpy / h5py missing: {_STACK_ERROR}")
    def test_help_and_clean_exit(self):
        for name in ("torch_attention.py", "torch_linsolve.py"):
            r = run([os.path.join(PEERS, name), "--help"])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("Usage", r.stdout)
        try:
            import torch  # noqa: F401
            return
        except ImportError:
            pass
        with tempfile.TemporaryDirectory() as tmp:
            r = run([os.path.join(PEERS, "torch_attention.py"), "--shape", "1,1,8,8", "-o",
                     os.path.join(tmp, "x.h5")])
            self.assertEqual(r.returncode, 2)
            self.assertIn("PyTorch is not importable", r.stderr)
            self.assertFalse(os.path.exists(os.path.join(tmp, "x.h5")))


# ------------------------------------------------------------------ torch --
TINY_ATTENTION = """name: peers_attn_tiny
kind: attention
warmup: 1
repetitions: 2
sweep:
  product: {causal: [false, true]}
  zip: {N: [64, 40, 50], N_kv: [64, 50, 40]}
shape: {B: 1, H: 2, D: 32}
dtype: float32
methods: [standard, {name: tiled, tile_q: 16, tile_k: 32}, {name: tiled_bwd, tile_q: 16, tile_k: 32}]
"""


class TorchPeers(unittest.TestCase):
    """Runs where torch imports: the real GPU peers on CUDA, else the CPU test device."""

    @classmethod
    def setUpClass(cls):
        import torch
        cls.torch = torch
        cls.cuda = torch.cuda.is_available()
        cls.dev_args = [] if cls.cuda else ["--device", "cpu"]
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_lab_algorithms_match_reference(self):
        import torch_attention as T
        torch = self.torch
        T.DEVICE = torch.device("cuda" if self.cuda else "cpu")
        for N, Nk, causal in ((37, 37, False), (37, 37, True), (29, 45, True), (45, 29, True)):
            prob = {"B": 2, "H": 2, "N": N, "N_kv": Nk, "D": 8, "dtype": "float64", "causal": causal, "seed": 3}
            inp = T.Inputs(prob, T.DEVICE, lambda p: p)
            ref = T.Reference(inp, True, chunk_elements=N * Nk)  # one head per chunk
            o1 = T.lab_tiled_forward(inp.q, inp.k, inp.v, 16, 8, causal)
            o2, l2 = T.lab_flash_forward(inp.q, inp.k, inp.v, 16, 8, causal)
            g = T.lab_tiled_backward(inp.do, inp.q, inp.k, inp.v, 16, 8, causal)
            # Autograd of a plain softmax attention in fp64 as an independent check of the reference.
            q, k, v = (x.clone().requires_grad_(True) for x in (inp.q, inp.k, inp.v))
            s = q @ k.transpose(-1, -2) / np.sqrt(8)
            if causal:
                s = s.masked_fill(~T.causal_mask(N, Nk, q.device, 0, N), float("-inf"))
            o = torch.nan_to_num(torch.softmax(s, -1), nan=0.0) @ v
            o.backward(inp.do)
            for name, x, r in (("O tiled", o1, ref.O), ("O flash", o2, ref.O), ("L flash", l2, ref.L),
                               ("dQ", g[0], ref.dQ), ("dK", g[1], ref.dK), ("dV", g[2], ref.dV),
                               ("autograd O", o, ref.O), ("autograd dQ", q.grad, ref.dQ),
                               ("autograd dK", k.grad, ref.dK), ("autograd dV", v.grad, ref.dV)):
                with self.subTest(N=N, N_kv=Nk, causal=causal, what=name):
                    self.assertLess(T.error_norms(x, r)[1], 1e-13)

    def test_attention_config(self):
        cfg = write(self.tmp.name, "attn.yaml", TINY_ATTENTION)
        out = os.path.join(self.tmp.name, "attn_torch.h5")
        r = run([os.path.join(PEERS, "torch_attention.py"), cfg, "-o", out, "-q", "--numlab", NUMLAB]
                + self.dev_args)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        root, pts = points_of(out)
        self.assertEqual((root["peer"], root["kind"], int(root["schema_version"])), ("torch", "attention", 1))
        self.assertEqual(len(pts), 6 * 9)  # torch_standard, 4 SDPA, flash_attn, 3 lab methods
        for p in pts:
            with self.subTest(point=p["_group"], method=p["method"], N=p["N"], N_kv=p["N_kv"], causal=p["causal"]):
                for k in ("B", "H", "N", "N_kv", "D", "dtype", "causal", "seed", "method", "status", "point_key"):
                    self.assertIn(k, p)
                self.assertIsInstance(p["causal"], np.int8)
                self.assertTrue(p["peer_label"])  # what the peer is, on every point
                if p["method"] == "sdpa_flash":
                    self.assertIn("FlashAttention-2 kernels inside PyTorch SDPA", p["peer_label"])
                if p["method"] == "flash_attn" and p["status"] != "ok":  # fp32 here, or not installed
                    self.assertEqual(p["status"], "skipped")
                    self.assertIn("flash_attn_version", p)
                if p["method"].startswith("torch_lab"):
                    self.assertEqual(p["status"], "ok", p.get("reason"))
                    self.assertEqual((p["tile_q"], p["tile_k"]), (16, 32))
                if p["method"] == "torch_standard":
                    self.assertEqual(p["status"], "ok", p.get("reason"))
                    self.assertIn("backward_seconds_median", p)
                if p["status"] == "ok" and p.get("vs_standard") == "always":  # numlab's auto: standard is run
                    names = ("dQ", "dK", "dV") if p["method"].endswith("_bwd") else ("O",)
                    for x in names:
                        self.assertLess(p[f"{x}_rel_fro_vs_standard"], 1e-5)  # fp32 rounding level
                        if p["method"] == "torch_standard":
                            self.assertEqual(p[f"{x}_max_abs_vs_standard"], 0.0)  # the baseline itself
                if not self.cuda and p["status"] == "ok":
                    self.assertEqual(p["peak_device_bytes"], p["peak_host_rss_bytes"])  # the CPU's measure
                if p["status"] != "ok":
                    self.assertTrue(p.get("reason"))
                    continue
                if p["method"] == "torch_lab_tiled_bwd" or (p["method"].startswith("sdpa")
                                                            and "backward_seconds_median" in p):
                    for g in ("dQ", "dK", "dV"):
                        self.assertLess(p[f"{g}_rel_fro_error"], 1e-5)  # fp32, TF32 off
                    self.assertGreater(p["backward_tflops"], 0)
                if "forward_seconds_median" in p:
                    self.assertLess(p["O_rel_fro_error"], 1e-5)
                    self.assertGreater(p["forward_tflops"], 0)
                if self.cuda:
                    self.assertGreaterEqual(p["peak_device_bytes"], 0)
        if self.cuda:  # the math backend runs fp32 everywhere (N_kv < N causal excepted)
            math_ok = [p for p in pts if p["method"] == "sdpa_math" and p["status"] == "ok"]
            self.assertEqual(len(math_ok), 5)

    @unittest.skipUnless(os.environ.get("NUMLAB_TEST_CUDA", "1") != "0", "disabled")
    def test_direct_half_precision(self):
        if not self.cuda:
            self.skipTest("no CUDA device")
        out = os.path.join(self.tmp.name, "direct.h5")
        r = run([os.path.join(PEERS, "torch_attention.py"), "--shape", "1,2,256,64", "--dtype", "bfloat16,float16",
                 "--causal", "0,1", "--methods", "sdpa_flash,sdpa_efficient,sdpa_math,torch_lab_flash", "-o", out,
                 "-q", "--repetitions", "2"])
        self.assertEqual(r.returncode, 0, r.stderr)
        _, pts = points_of(out)
        self.assertEqual(len(pts), 2 * 2 * 4)
        flash = [p for p in pts if p["method"] == "sdpa_flash"]
        self.assertTrue(all(p["status"] == "ok" for p in flash), [p.get("reason") for p in flash])
        for p in pts:
            if p["status"] == "ok":
                with self.subTest(method=p["method"], dtype=p["dtype"], causal=p["causal"]):
                    self.assertLess(p["O_rel_fro_error"], 3e-2)

    def test_linsolve(self):
        out = os.path.join(self.tmp.name, "lin.h5")
        r = run([os.path.join(PEERS, "torch_linsolve.py"), "--dense", "200", "--poisson", "4096", "-o", out, "-q",
                 "--repetitions", "2"] + self.dev_args)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        root, pts = points_of(out)
        self.assertEqual((root["peer"], root["kind"]), ("torch", "linsolve"))
        solve = next(p for p in pts if p["method"] == "torch_solve")
        self.assertEqual(solve["status"], "solved", solve.get("reason"))
        self.assertLess(solve["rel_error"], 1e-10)
        spmv = next(p for p in pts if p["method"] == "cusparse_spmv")
        self.assertEqual(spmv["status"], "ok", spmv.get("reason"))
        self.assertLess(spmv["spmv_rel_error"], 1e-14)
        self.assertGreater(spmv["spmv_bandwidth_GBps"], 0)


def _flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t


def main():
    global NUMLAB
    ap = argparse.ArgumentParser()
    ap.add_argument("--numlab", default=os.path.join(ROOT, "build", "numlab"))
    ap.add_argument("--torch", action="store_true", help="the torch tests (exit 77 = skipped without torch)")
    args, rest = ap.parse_known_args()
    NUMLAB = os.path.abspath(args.numlab)
    loader = unittest.TestLoader()
    if args.torch:
        if _STACK_ERROR is not None:
            print(f"SKIP: numpy / scipy / h5py missing in {sys.executable}: {_STACK_ERROR}")
            return SKIP
        try:
            import torch  # noqa: F401
        except ImportError as e:
            print(f"SKIP: PyTorch is not importable in {sys.executable}: {e}")
            return SKIP
        suite = loader.loadTestsFromTestCase(TorchPeers)
    else:
        if _STACK_ERROR is not None:
            print(f"SKIP: numpy / scipy / h5py missing in {sys.executable}: {_STACK_ERROR}")
            return SKIP
        if not os.access(NUMLAB, os.X_OK):
            print(f"error: numlab binary '{NUMLAB}' not found", file=sys.stderr)
            return 1
        suite = unittest.TestSuite(loader.loadTestsFromTestCase(c)
                                   for c in (Expansion, ScipyPeer, Generators, TorchScriptsWithoutTorch))
    if rest:
        suite = unittest.TestSuite(t for t in _flatten(suite) if any(r in t.id() for r in rest))
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
