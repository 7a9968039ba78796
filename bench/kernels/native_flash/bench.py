# SPDX-License-Identifier: MIT
"""Device harness for the native kernels (src/cuda): correctness vs float64 (and vs standard
attention in the same precision) and timing vs PyTorch SDPA (flash and cuDNN backends).

    bench/kernels/native_flash/build.sh /tmp/fa && python3 bench/kernels/native_flash/bench.py /tmp/fa/libfa.so [--out DIR]

(or the libfa.so that numlab's build makes in BUILD/bench/kernels/native_flash/). bench.json and
bench.log go to --out: default $OUT, else a new temporary folder (printed at the end).

Several libraries (variants built with build.sh -D...) can be given: each is checked and timed in
the same process, SDPA once per case. --D, --N, --dtypes, --extra, --sdpa, --no-det narrow a run.

Accuracy rule: rel. Frobenius error of O, dQ, dK, dV vs fp64 <= 2x that of standard attention
(S = QK^T, softmax, PV in the same dtype, autograd in that dtype) vs fp64.
"""
import argparse, ctypes, json, math, os, statistics, sys, tempfile, time
import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("libs", nargs="+")
p.add_argument("--names", default="", help="comma-separated names of the libraries (default: their folders)")
p.add_argument("--out", default=os.environ.get("OUT") or None, help="output folder (default $OUT or a temp folder)")
p.add_argument("--skip-check", action="store_true")
p.add_argument("--skip-bench", action="store_true")
p.add_argument("--reps", type=int, default=10)
p.add_argument("--subset", action="store_true", help="bench N=8192 bf16 non-causal only")
p.add_argument("--D", default="64,128,256", help="head dims of the non-causal sweep")
p.add_argument("--N", default="2048,4096,8192,16384", help="sequence lengths of the non-causal sweep")
p.add_argument("--dtypes", default="bf16", help="dtypes of the non-causal sweep (bf16,fp16)")
p.add_argument("--extra", type=int, default=1, help="also causal bf16 (D 128 N 8k, D 64 N 4k) and fp16 D 128 N 8k")
p.add_argument("--sdpa", default="flash,cudnn", help="SDPA backends to time ('' for none)")
p.add_argument("--no-sdpa", action="store_true")
p.add_argument("--no-det", action="store_true", help="skip timing the deterministic backward")
p.add_argument("--long", default="", help="also B=1 H=16 D=128 at these N, causal and not (e.g. 32768,65536,131072)")
p.add_argument("--fwd-only", action="store_true", help="time the forward only (no backward, SDPA forward only)")
p.add_argument("--tag", default="")
FWD_KERNELS = ["auto", "wgmma_sm90", "mma_sm80"]  # fa_set_forward_kernel's numbering
p.add_argument("--fwd-kernel", default="auto", choices=FWD_KERNELS,
               help="forward kernel (auto: wgmma_sm90 where the device runs sm_90a code, else mma_sm80)")
args = p.parse_args()


def load(path):
    l = ctypes.CDLL(os.path.abspath(path))
    l.fa_last_error.restype = ctypes.c_char_p
    l.fa_workspace_bytes.restype = ctypes.c_long
    l.fa_forward_flops.restype = ctypes.c_double
    l.fa_set_forward_kernel(FWD_KERNELS.index(args.fwd_kernel))
    return l


LIBS = [load(x) for x in args.libs]
NAMES = args.names.split(",") if args.names else [os.path.basename(os.path.dirname(os.path.abspath(x))) for x in args.libs]
assert len(NAMES) == len(LIBS), "--names must name every library"
lib = LIBS[0]  # the library the fa_* helpers call; switched per variant
VP = ctypes.c_void_p
dev = torch.device("cuda")
log_lines = []


def log(*a):
    s = " ".join(str(x) for x in a)
    print(s, flush=True)
    log_lines.append(s)


def ptr(t):
    return VP(t.data_ptr()) if t is not None else VP(0)


def stream():
    return VP(torch.cuda.current_stream().cuda_stream)


def fa_forward(q, k, v, causal, scale=0.0, o=None, lse=None):
    B, H, N, D = q.shape
    Nkv = k.shape[2]
    if o is None:  # poisoned: every element must be written
        o = torch.full_like(q, float("nan"))
        lse = torch.full((B, H, N), float("nan"), device=dev, dtype=torch.float32)
    rc = lib.fa_forward(B, H, N, Nkv, D, int(causal), int(q.dtype == torch.float16), ctypes.c_float(scale),
                        ptr(q), ptr(k), ptr(v), ptr(o), ptr(lse), stream())
    if rc:
        raise RuntimeError(lib.fa_last_error().decode())
    return o, lse


class Bwd:
    def __init__(self, q, k, causal, det):
        B, H, N, D = q.shape
        Nkv = k.shape[2]
        self.dims = (B, H, N, Nkv, D, int(causal))
        self.det = det
        self.wsb = lib.fa_workspace_bytes(*self.dims, int(det))
        self.ws = torch.empty(self.wsb, device=dev, dtype=torch.uint8)

    def __call__(self, q, k, v, o, do, lse, dq, dk, dv, scale=0.0):
        rc = lib.fa_backward(*self.dims, int(q.dtype == torch.float16), ctypes.c_float(scale), int(self.det),
                             ptr(q), ptr(k), ptr(v), ptr(o), ptr(do), ptr(lse), ptr(dq), ptr(dk), ptr(dv),
                             ptr(self.ws), ctypes.c_long(self.wsb), stream())
        if rc:
            raise RuntimeError(lib.fa_last_error().decode())


def fa_backward(q, k, v, o, do, lse, causal, det):
    dq = torch.full_like(q, float("nan"))
    dk = torch.full_like(k, float("nan"))
    dv = torch.full_like(v, float("nan"))
    Bwd(q, k, causal, det)(q, k, v, o, do, lse, dq, dk, dv)
    return dq, dk, dv


def mask_of(N, Nkv, causal):
    if not causal:
        return None
    i = torch.arange(N, device=dev)[:, None]
    j = torch.arange(Nkv, device=dev)[None, :]
    return j <= i + (Nkv - N)


def standard(q, k, v, causal, scale):
    """Standard attention in q.dtype (or fp64): S, P materialised; autograd-able. Returns O, lse."""
    s = torch.matmul(q, k.transpose(-1, -2)) * scale
    m = mask_of(q.shape[2], k.shape[2], causal)
    if m is not None:
        s = s.masked_fill(~m, float("-inf"))
    lse = torch.logsumexp(s.float() if s.dtype != torch.float64 else s, dim=-1)
    pr = torch.softmax(s, dim=-1)
    pr = torch.where(torch.isnan(pr), torch.zeros_like(pr), pr)  # rows with no key
    return torch.matmul(pr, v), lse


def rel(x, ref):
    x = x.double()
    d = torch.linalg.vector_norm(x - ref)
    r = torch.linalg.vector_norm(ref)
    return float(d / r) if r > 0 else float(d)


def check_case(B, H, N, Nkv, D, causal, dtype):
    """Checks every library on one case; returns [(ok, worst ratio)] per library."""
    global lib
    scale = 1.0 / math.sqrt(D)
    g = [torch.randn(B, H, n, D, device=dev, dtype=torch.float32).to(dtype) for n in (N, Nkv, Nkv, N)]
    q, k, v, do = g
    # fp64 reference on the same (rounded) inputs
    q64, k64, v64 = (t.double().requires_grad_() for t in (q, k, v))
    o64, lse64 = standard(q64, k64, v64, causal, scale)
    dq64, dk64, dv64 = torch.autograd.grad(o64, (q64, k64, v64), do.double())
    # standard attention in the same precision
    qs, ks, vs = (t.clone().requires_grad_() for t in (q, k, v))
    os_, _ = standard(qs, ks, vs, causal, scale)
    dqs, dks, dvs = torch.autograd.grad(os_, (qs, ks, vs), do)
    ref = dict(O=o64, dQ=dq64, dK=dk64, dV=dv64)
    std = dict(O=os_, dQ=dqs, dK=dks, dV=dvs)
    res = []
    for name_lib, l in zip(NAMES, LIBS):
        lib = l
        try:
            res.append(check_one(name_lib, q, k, v, do, causal, ref, std, lse64, (B, H, N, Nkv, D, dtype)))
        except Exception as e:  # keep going: one bad library must not hide the others
            log("ERROR", name_lib, (B, H, N, Nkv, D, causal, dtype), repr(e))
            res.append((False, float("inf")))
    return res


def check_one(name_lib, q, k, v, do, causal, ref, std, lse64, dims):
    B, H, N, Nkv, D, dtype = dims
    o, lse = fa_forward(q, k, v, causal)
    dq, dk, dv = fa_backward(q, k, v, o, do, lse, causal, det=False)
    dq2, dk2, dv2 = fa_backward(q, k, v, o, do, lse, causal, det=True)
    dq3, dk3, dv3 = fa_backward(q, k, v, o, do, lse, causal, det=True)
    torch.cuda.synchronize()
    mine = dict(O=o, dQ=dq, dK=dk, dV=dv)
    mdet = dict(O=o, dQ=dq2, dK=dk2, dV=dv2)
    ok = True
    parts = []
    worst = 0.0
    for name in ("O", "dQ", "dK", "dV"):
        es = rel(std[name], ref[name])
        em = rel(mine[name], ref[name])
        ed = rel(mdet[name], ref[name])
        fin = bool(torch.isfinite(mine[name]).all()) and bool(torch.isfinite(mdet[name]).all())
        ratio = max(em, ed) / max(es, 1e-30)
        worst = max(worst, ratio)
        good = fin and ratio <= 2.0
        ok &= good
        parts.append(f"{name}: {em:.2e}/{ed:.2e} std {es:.2e} x{ratio:.2f}{'' if good else ' FAIL'}")
    # lse: finite rows compared absolutely; -inf rows must match
    fin = torch.isfinite(lse64)
    lse_ok = bool(torch.equal(torch.isfinite(lse), fin)) and not torch.isnan(lse).any()
    lse_err = float((lse.double()[fin] - lse64[fin]).abs().max()) if fin.any() else 0.0
    lse_ok &= lse_err < 1e-3 * (1 + float(lse64[fin].abs().max()) if fin.any() else 1)
    det_same = torch.equal(dq2, dq3) and torch.equal(dk2, dk3) and torch.equal(dv2, dv3)
    ok &= lse_ok and det_same
    log(f"{'PASS' if ok else 'FAIL'} [{name_lib}] {str(dtype)[6:]} B{B} H{H} N{N} Nkv{Nkv} D{D} causal={int(causal)} | "
        + " | ".join(parts) + f" | lse {lse_err:.1e}{'' if lse_ok else ' FAIL'} | det-bitwise {det_same}")
    return ok, worst


def run_checks():
    cases = []
    for dtype in (torch.bfloat16, torch.float16):
        for D in (64, 128, 256):
            cases += [(2, 3, 300, 300, D, False, dtype), (2, 2, 256, 256, D, True, dtype),
                      (1, 2, 257, 700, D, True, dtype), (1, 2, 700, 257, D, True, dtype),
                      (1, 2, 1, 1000, D, False, dtype), (1, 2, 1000, 33, D, False, dtype),
                      (1, 1, 77, 77, D, True, dtype)]
    nfail = [0] * len(LIBS)
    worst = [0.0] * len(LIBS)
    for c in cases:
        try:
            res = check_case(*c)
        except Exception as e:  # the reference itself failed
            log("ERROR", c, repr(e))
            res = [(False, float("inf"))] * len(LIBS)
        for i, (ok, w) in enumerate(res):
            worst[i] = max(worst[i], w)
            nfail[i] += not ok
    for i, n in enumerate(NAMES):
        log(f"checks [{n}]: {len(cases) - nfail[i]}/{len(cases)} passed; worst error ratio vs standard {worst[i]:.2f}")
    return nfail


def bench(fn, reps):
    for _ in range(3):
        fn()
    ts = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b) * 1e-3)
    return statistics.median(ts)


def sdpa_time(backend, q, k, v, do, causal, reps):
    from torch.nn.attention import sdpa_kernel
    try:
        with sdpa_kernel([backend]):
            qq, kk, vv = (t.detach().requires_grad_() for t in (q, k, v))
            fwd = bench(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal), reps)
            if args.fwd_only:
                return fwd, None
            o = F.scaled_dot_product_attention(qq, kk, vv, is_causal=causal)
            bwd = bench(lambda: torch.autograd.grad(o, (qq, kk, vv), do, retain_graph=True), reps)
            return fwd, bwd
    except Exception as e:
        return None, None


def run_bench(reps):
    global lib
    from torch.nn.attention import SDPBackend
    rows = []
    cases = []
    dts = dict(bf16=torch.bfloat16, fp16=torch.float16)
    for D in (int(x) for x in args.D.split(",")):
        for N in (int(x) for x in args.N.split(",")):
            for dt in args.dtypes.split(","):
                cases.append((16384 // N, 2048 // D, N, D, False, dts[dt]))
    if args.extra:
        cases += [(2, 16, 8192, 128, True, torch.bfloat16), (2, 16, 8192, 128, False, torch.float16),
                  (4, 32, 4096, 64, True, torch.bfloat16)]
    for N in (int(x) for x in args.long.split(",") if x):
        cases += [(1, 16, N, 128, False, torch.bfloat16), (1, 16, N, 128, True, torch.bfloat16)]
    if args.subset:
        cases = [c for c in cases if c[2] == 8192 and not c[4] and c[5] == torch.bfloat16]
    backends = [] if args.no_sdpa else [b for b in args.sdpa.split(",") if b]
    log(f"{'lib':10} {'dtype':5} {'B':>2} {'H':>3} {'N':>6} {'D':>4} c | fwd TFLOP/s: ours  flash  cudnn  x_flash | "
        f"bwd TFLOP/s: atomic  det  flash  cudnn  x_flash(atomic)")
    for (B, H, N, D, causal, dtype) in cases:
        q, k, v, do = (torch.randn(B, H, N, D, device=dev, dtype=dtype) for _ in range(4))
        flops = LIBS[0].fa_forward_flops(B, H, N, N, D, int(causal))
        tf = lambda t, m=1.0: (m * flops / t / 1e12) if t else float("nan")
        ff = fb = cf = cb = None
        if "flash" in backends:
            ff, fb = sdpa_time(SDPBackend.FLASH_ATTENTION, q, k, v, do, causal, reps)
        if "cudnn" in backends:
            cf, cb = sdpa_time(SDPBackend.CUDNN_ATTENTION, q, k, v, do, causal, reps)
        for name_lib, l in zip(NAMES, LIBS):
            lib = l
            try:
                o, lse = fa_forward(q, k, v, causal)
                o2, lse2 = torch.empty_like(o), torch.empty_like(lse)
                t_f = bench(lambda: fa_forward(q, k, v, causal, 0.0, o2, lse2), reps)
                dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
                ba = Bwd(q, k, causal, False)
                t_ba = None if args.fwd_only else bench(lambda: ba(q, k, v, o, do, lse, dq, dk, dv), reps)
                t_bd = None
                if not args.no_det and not args.fwd_only:
                    bd = Bwd(q, k, causal, True)
                    t_bd = bench(lambda: bd(q, k, v, o, do, lse, dq, dk, dv), reps)
            except Exception as e:
                log("ERROR", name_lib, (B, H, N, D, causal, dtype), repr(e))
                continue
            r = dict(lib=name_lib, dtype=str(dtype)[6:], B=B, H=H, N=N, D=D, causal=causal, fwd=tf(t_f),
                     fwd_flash=tf(ff), fwd_cudnn=tf(cf), bwd_atomic=tf(t_ba, 2.5), bwd_det=tf(t_bd, 2.5),
                     bwd_flash=tf(fb, 2.5), bwd_cudnn=tf(cb, 2.5))
            rows.append(r)
            log(f"{name_lib[:10]:10} {r['dtype']:5} {B:2d} {H:3d} {N:6d} {D:4d} {int(causal)} | {r['fwd']:6.1f} "
                f"{r['fwd_flash']:6.1f} {r['fwd_cudnn']:6.1f}  {r['fwd'] / r['fwd_flash']:5.2f} | "
                f"{r['bwd_atomic']:6.1f} {r['bwd_det']:6.1f} {r['bwd_flash']:6.1f} {r['bwd_cudnn']:6.1f}  "
                f"{r['bwd_atomic'] / r['bwd_flash']:5.2f}")
            del o, lse, o2, lse2, dq, dk, dv, ba
            torch.cuda.empty_cache()
        del q, k, v, do
        torch.cuda.empty_cache()
    return rows


def summary(rows):
    """One line per case: TFLOP/s of each library and its ratio to SDPA flash, fwd and atomic bwd."""
    cases = {}
    for r in rows:
        cases.setdefault((r["dtype"], r["N"], r["D"], r["causal"]), {})[r["lib"]] = r
    log("summary: TFLOP/s (x SDPA flash, x cuDNN 'c'); fwd | bwd atomic; libraries: " + ", ".join(NAMES))
    for (dt, N, D, c), per in cases.items():
        any_r = next(iter(per.values()))
        f = " ".join(f"{per[n]['fwd']:6.1f}({per[n]['fwd'] / any_r['fwd_flash']:4.2f}, {per[n]['fwd'] / any_r['fwd_cudnn']:4.2f}c)"
                     if n in per else " " * 19 for n in NAMES)
        b = " ".join(f"{per[n]['bwd_atomic']:6.1f}({per[n]['bwd_atomic'] / any_r['bwd_flash']:4.2f})" if n in per
                     else " " * 12 for n in NAMES)
        log(f"{dt:8} N{N:<6d} D{D:<4d} c{int(c)} | {f} | flash {any_r['fwd_flash']:6.1f} cudnn {any_r['fwd_cudnn']:6.1f} || "
            f"{b} | flash {any_r['bwd_flash']:6.1f}")


log(torch.cuda.get_device_name(), torch.__version__, " ".join(f"{n}={l}" for n, l in zip(NAMES, args.libs)))
torch.manual_seed(0)
nfail = [0] * len(LIBS)
if not args.skip_check:
    nfail = run_checks()
rows = [] if args.skip_bench else run_bench(args.reps)
if rows:
    summary(rows)
if args.out is None:
    args.out = tempfile.mkdtemp(prefix="fa_bench_")
os.makedirs(args.out, exist_ok=True)
with open(os.path.join(args.out, f"bench{args.tag}.json"), "w") as f:
    json.dump(dict(rows=rows, failures=dict(zip(NAMES, nfail))), f, indent=1)
with open(os.path.join(args.out, f"bench{args.tag}.log"), "w") as f:
    f.write("\n".join(log_lines) + "\n")
print(f"wrote {os.path.join(args.out, f'bench{args.tag}.json')} and bench{args.tag}.log", flush=True)
sys.exit(1 if any(nfail) else 0)
