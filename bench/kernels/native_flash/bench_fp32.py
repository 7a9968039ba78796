# SPDX-License-Identifier: MIT
"""Device harness for the native fp32 forward (src/cuda/flash_fwd_fp32_kernel.cuh): accuracy vs
float64 beside standard attention in fp32, and speed vs PyTorch SDPA's memory-efficient backend in
fp32, for one or several libfa.so builds (bench/kernels/native_flash/build.sh variants).

    python3 bench/kernels/native_flash/bench_fp32.py build-fa/NAME/libfa.so ... [--out DIR]

Accuracy rule (issue 17): max-abs and rel. Frobenius error of O and L vs fp64 at most 2x those of
standard attention in fp32 (S = scale Q K^T, softmax, P V; cuBLAS SGEMM with TF32 off, fp32 softmax)
vs fp64. 3xTF32 must meet it; 1xTF32 is printed beside it for comparison.
TF32 is off for every PyTorch product (torch.backends.cuda.matmul.allow_tf32 = False,
cudnn.allow_tf32 = False, float32 matmul precision 'highest'), as scripts/peers/torch_attention.py sets it.
"""
import argparse, ctypes, json, math, os, statistics, tempfile
import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("libs", nargs="+")
p.add_argument("--names", default="")
p.add_argument("--out", default=os.environ.get("OUT") or None)
p.add_argument("--reps", type=int, default=10)
p.add_argument("--D", default="64,128")
p.add_argument("--N", default="2048,4096,8192,16384")
p.add_argument("--terms", default="3,1", help="TF32 terms to time (3, 1)")
p.add_argument("--skip-bench", action="store_true")
p.add_argument("--tag", default="")
args = p.parse_args()

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.set_float32_matmul_precision("highest")
dev = torch.device("cuda")
VP = ctypes.c_void_p
log_lines = []


def log(*a):
    s = " ".join(str(x) for x in a)
    print(s, flush=True)
    log_lines.append(s)


def load(path):
    l = ctypes.CDLL(os.path.abspath(path))
    l.fa_last_error.restype = ctypes.c_char_p
    return l


LIBS = [load(x) for x in args.libs]
NAMES = args.names.split(",") if args.names else [os.path.basename(os.path.dirname(os.path.abspath(x))) for x in args.libs]


def fwd(lib, q, k, v, causal, terms, o=None, lse=None):
    B, H, N, D = q.shape
    if o is None:  # poisoned: every element must be written
        o = torch.full_like(q, float("nan"))
        lse = torch.full((B, H, N), float("nan"), device=dev, dtype=torch.float32)
    rc = lib.fa_forward_fp32(B, H, N, k.shape[2], D, int(causal), terms, ctypes.c_float(0.0), VP(q.data_ptr()),
                             VP(k.data_ptr()), VP(v.data_ptr()), VP(o.data_ptr()), VP(lse.data_ptr()),
                             VP(torch.cuda.current_stream().cuda_stream))
    if rc:
        raise RuntimeError(lib.fa_last_error().decode())
    return o, lse


def standard(q, k, v, causal):
    """O, L of materialised attention in q's dtype (bottom-right causal; rows with no key: O 0, L -inf)."""
    N, Nkv, D = q.shape[2], k.shape[2], q.shape[3]
    s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(D))
    if causal:
        i = torch.arange(N, device=dev)[:, None]
        j = torch.arange(Nkv, device=dev)[None, :]
        s = s.masked_fill(~(j <= i + (Nkv - N)), float("-inf"))
    L = torch.logsumexp(s, dim=-1)
    P = torch.exp(s - torch.where(torch.isfinite(L), L, torch.zeros_like(L))[..., None])
    return torch.nan_to_num(P @ v), L


def err(x, ref):
    """max-abs and rel. Frobenius error over finite reference values (-inf L must match exactly)."""
    fin = torch.isfinite(ref)
    if not torch.equal(torch.isfinite(x), fin) or not torch.equal(x[~fin], ref[~fin]):
        return float("inf"), float("inf")
    d = (x.double() - ref)[fin]
    if d.numel() == 0:
        return 0.0, 0.0
    return d.abs().max().item(), (d.norm() / max(ref[fin].norm().item(), 1e-300)).item()


CASES = [(1, 2, 300, 300, False), (1, 2, 256, 256, True), (1, 2, 257, 700, True), (1, 2, 700, 257, True),
         (1, 2, 1, 1000, False), (1, 2, 1000, 33, False), (2, 3, 77, 77, True), (2, 3, 113, 203, False),
         (1, 1, 1023, 777, True), (1, 1, 2048, 2048, False), (1, 1, 4096, 4096, False), (1, 1, 8192, 8192, False),
         (1, 1, 4096, 4096, True)]
results = {"check": [], "bench": []}
worst = {}
gen = torch.Generator(device=dev)
for D in [int(x) for x in args.D.split(",")]:
    for (B, H, N, Nkv, causal) in CASES:
        gen.manual_seed(17 + N + 3 * Nkv + D)
        q, k, v = (torch.randn(B, H, n, D, device=dev, generator=gen) for n in (N, Nkv, Nkv))
        O64, L64 = standard(q.double(), k.double(), v.double(), causal)
        O32, L32 = standard(q, k, v, causal)
        bO, bL = err(O32, O64), err(L32, L64)
        for name, lib in zip(NAMES, LIBS):
            for terms in (3, 1):
                o, lse = fwd(lib, q, k, v, causal, terms)
                torch.cuda.synchronize()
                eO, eL = err(o, O64), err(lse, L64)
                fin = torch.isfinite(L64)
                Lbias = (lse.double() - L64)[fin].mean().item() if fin.any() else 0.0
                r = {"lib": name, "terms": terms, "D": D, "B": B, "H": H, "N": N, "Nkv": Nkv, "causal": causal,
                     "O": eO, "L": eL, "O_std": bO, "L_std": bL,
                     "ratio_O_max": eO[0] / max(bO[0], 1e-30), "ratio_O_fro": eO[1] / max(bO[1], 1e-30),
                     "ratio_L_max": eL[0] / max(bL[0], 1e-30), "ratio_L_fro": eL[1] / max(bL[1], 1e-30)}
                results["check"].append(r)
                w = worst.setdefault((name, terms), {})
                for kk in ("ratio_O_max", "ratio_O_fro", "ratio_L_max", "ratio_L_fro"):
                    w[kk] = max(w.get(kk, 0.0), r[kk])
                log(f"check [{name}] {terms}xTF32 D={D} B={B} H={H} N={N} Nkv={Nkv} causal={int(causal)}: "
                    f"O {eO[0]:.2e}/{eO[1]:.2e} (std {bO[0]:.2e}/{bO[1]:.2e}, x{r['ratio_O_max']:.2f}/{r['ratio_O_fro']:.2f}) "
                    f"L {eL[0]:.2e} (std {bL[0]:.2e}, x{r['ratio_L_max']:.2f}) L bias {Lbias:+.2e}")
for (name, terms), w in worst.items():
    ok = terms != 3 or all(v <= 2.0 for v in w.values())
    log(f"worst ratios [{name}] {terms}xTF32: " + " ".join(f"{k} {v:.2f}" for k, v in w.items()) +
        ("" if terms != 3 else ("  RULE MET" if ok else "  RULE FAILED")))


def timed(fn, reps):
    for _ in range(3):
        fn()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b) * 1e-3)
    return statistics.median(ts)


if not args.skip_bench:
    from torch.nn.attention import SDPBackend, sdpa_kernel
    for D in [int(x) for x in args.D.split(",")]:
        H = 2048 // D
        for N in [int(x) for x in args.N.split(",")]:
            B = 16384 // N
            flops = 4.0 * B * H * N * N * D
            q, k, v = (torch.randn(B, H, N, D, device=dev) for _ in range(3))
            o = torch.empty_like(q)
            lse = torch.empty(B, H, N, device=dev)
            with sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION):
                te = timed(lambda: F.scaled_dot_product_attention(q, k, v), args.reps)
            line = f"bench D={D} N={N} B={B} H={H}: sdpa_efficient {flops / te / 1e12:.1f}"
            row = {"D": D, "N": N, "B": B, "H": H, "sdpa_efficient_tflops": flops / te / 1e12}
            for name, lib in zip(NAMES, LIBS):
                for terms in [int(x) for x in args.terms.split(",")]:
                    t = timed(lambda: fwd(lib, q, k, v, False, terms, o, lse), args.reps)
                    row[f"{name}_{terms}x_tflops"] = flops / t / 1e12
                    line += f"  {name} {terms}x {flops / t / 1e12:.1f} ({te / t:.2f}x)"
            results["bench"].append(row)
            log(line)
            del q, k, v, o, lse
            torch.cuda.empty_cache()

out = args.out or tempfile.mkdtemp(prefix="fa32_")
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, f"bench_fp32{args.tag}.json"), "w") as f:
    json.dump(results, f, indent=1)
with open(os.path.join(out, f"bench_fp32{args.tag}.log"), "w") as f:
    f.write("\n".join(log_lines) + "\n")
log("wrote", out)
