# SPDX-License-Identifier: MIT
"""Device harness for the native fp32 backward (src/cuda/flash_bwd_fp32_kernel.cuh and the
deterministic dQ pass flash_bwd_fp32_dq_kernel.cuh): accuracy vs float64 beside standard attention in
fp32, and speed vs PyTorch SDPA's memory-efficient backward in fp32, for one or several libfa.so
builds (bench/kernels/native_flash/build_fp32.sh variants).

    python3 bench/kernels/native_flash/bench_fp32_bwd.py build-fa/NAME/libfa.so ... [--out DIR]

Accuracy rule (issue 17): max-abs and rel. Frobenius error of dQ, dK, dV vs fp64 at most 2x those of
standard attention's backward in fp32 (S = scale Q K^T, P = softmax, dV = P^T dO, dP = dO V^T,
dS = P o (dP - rowsum(P o dP)), dQ = scale dS K, dK = scale dS^T Q; cuBLAS SGEMM with TF32 off) vs
fp64. The backward runs on the library's own fp32 forward state (O, LSE), as numlab runs it.
3xTF32 must meet the rule; 1xTF32 is printed beside it. The deterministic mode must repeat bitwise.
Speed: the backward alone (SDPA: autograd.backward on a retained graph), median of repetitions after
warm-up, CUDA events; B N = 16k tokens, H = 2048 / D, not causal; 2.5 x 4 B H N^2 D FLOP.
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
p.add_argument("--terms", default="3", help="TF32 terms to time (3, 1)")
p.add_argument("--skip-bench", action="store_true")
p.add_argument("--skip-check", action="store_true")
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
    l.fa_workspace_bytes.restype = ctypes.c_long
    return l


LIBS = [load(x) for x in args.libs]
NAMES = args.names.split(",") if args.names else [os.path.basename(os.path.dirname(os.path.abspath(x))) for x in args.libs]
stream = lambda: VP(torch.cuda.current_stream().cuda_stream)


def fwd(lib, q, k, v, causal):
    B, H, N, D = q.shape
    o = torch.full_like(q, float("nan"))
    lse = torch.full((B, H, N), float("nan"), device=dev, dtype=torch.float32)
    rc = lib.fa_forward_fp32(B, H, N, k.shape[2], D, int(causal), 3, ctypes.c_float(0.0), VP(q.data_ptr()),
                             VP(k.data_ptr()), VP(v.data_ptr()), VP(o.data_ptr()), VP(lse.data_ptr()), stream())
    if rc:
        raise RuntimeError(lib.fa_last_error().decode())
    return o, lse


class Bwd:
    """One library's backward on fixed inputs and forward state, outputs poisoned before the first call."""

    def __init__(self, lib, q, k, v, o, lse, do, causal, terms, det):
        B, H, N, D = q.shape
        self.lib, self.args = lib, (q, k, v, o, lse, do)
        self.shape = (B, H, N, k.shape[2], D, int(causal))
        self.terms, self.det = terms, det
        self.dq, self.dk, self.dv = (torch.full_like(x, float("nan")) for x in (q, k, v))
        ws = lib.fa_workspace_bytes(*self.shape, int(det))
        self.ws = torch.empty(max(ws, 1), dtype=torch.uint8, device=dev)

    def __call__(self):
        q, k, v, o, lse, do = self.args
        rc = self.lib.fa_backward_fp32(*self.shape, self.terms, ctypes.c_float(0.0), int(self.det),
                                       *(VP(x.data_ptr()) for x in (q, k, v, o, do, lse, self.dq, self.dk, self.dv,
                                                                    self.ws)),
                                       ctypes.c_long(self.ws.numel()), stream())
        if rc:
            raise RuntimeError(self.lib.fa_last_error().decode())
        return self.dq, self.dk, self.dv


def standard_grads(q, k, v, do, causal):
    """dQ, dK, dV of materialised attention in q's dtype (bottom-right causal; rows with no key: zero)."""
    N, Nkv, D = q.shape[2], k.shape[2], q.shape[3]
    scale = 1.0 / math.sqrt(D)
    s = (q @ k.transpose(-1, -2)) * scale
    if causal:
        i = torch.arange(N, device=dev)[:, None]
        j = torch.arange(Nkv, device=dev)[None, :]
        s = s.masked_fill(~(j <= i + (Nkv - N)), float("-inf"))
    L = torch.logsumexp(s, dim=-1)
    P = torch.exp(s - torch.where(torch.isfinite(L), L, torch.zeros_like(L))[..., None])
    dV = P.transpose(-1, -2) @ do
    dP = do @ v.transpose(-1, -2)
    dS = P * (dP - (P * dP).sum(-1, keepdim=True))
    return (dS @ k) * scale, (dS.transpose(-1, -2) @ q) * scale, dV


def err(x, ref):
    """max-abs and rel. Frobenius error (inf where x has a non-finite value)."""
    if not torch.isfinite(x).all():
        return float("inf"), float("inf")
    d = x.double() - ref
    if d.numel() == 0:
        return 0.0, 0.0
    return d.abs().max().item(), (d.norm() / max(ref.norm().item(), 1e-300)).item()


CASES = [(1, 2, 300, 300, False), (1, 2, 256, 256, True), (1, 2, 257, 700, True), (1, 2, 700, 257, True),
         (1, 2, 1, 1000, False), (1, 2, 1000, 33, False), (2, 3, 77, 77, True), (2, 3, 113, 203, False),
         (1, 1, 1023, 777, True), (1, 1, 2048, 2048, False), (1, 1, 4096, 4096, False), (1, 1, 4096, 4096, True)]
results = {"check": [], "bench": []}
worst = {}
gen = torch.Generator(device=dev)
if not args.skip_check:
    for D in [int(x) for x in args.D.split(",")]:
        for (B, H, N, Nkv, causal) in CASES:
            gen.manual_seed(29 + N + 3 * Nkv + D)
            q, k, v = (torch.randn(B, H, n, D, device=dev, generator=gen) for n in (N, Nkv, Nkv))
            do = torch.randn(B, H, N, D, device=dev, generator=gen)
            ref = standard_grads(q.double(), k.double(), v.double(), do.double(), causal)
            base = standard_grads(q, k, v, do, causal)
            b = [err(x, r) for x, r in zip(base, ref)]
            for name, lib in zip(NAMES, LIBS):
                o, lse = fwd(lib, q, k, v, causal)
                for terms in (3, 1):
                    for det in (False, True):
                        run = Bwd(lib, q, k, v, o, lse, do, causal, terms, det)
                        g = [x.clone() for x in run()]
                        torch.cuda.synchronize()
                        e = [err(x, r) for x, r in zip(g, ref)]
                        same = None
                        if det:
                            g2 = run()
                            torch.cuda.synchronize()
                            same = all(torch.equal(x, y) for x, y in zip(g, g2))
                        r = {"lib": name, "terms": terms, "det": det, "D": D, "B": B, "H": H, "N": N, "Nkv": Nkv,
                             "causal": causal, "bitwise_repeat": same}
                        line = (f"check [{name}] {terms}xTF32 {'det' if det else 'atomic'} D={D} B={B} H={H} N={N} "
                                f"Nkv={Nkv} causal={int(causal)}:")
                        w = worst.setdefault((name, terms, det), {})
                        for gname, eg, bg in zip(("dQ", "dK", "dV"), e, b):
                            rm, rf = eg[0] / max(bg[0], 1e-30), eg[1] / max(bg[1], 1e-30)
                            r.update({gname: eg, gname + "_std": bg, f"ratio_{gname}_max": rm, f"ratio_{gname}_fro": rf})
                            w[f"{gname}_max"] = max(w.get(f"{gname}_max", 0.0), rm)
                            w[f"{gname}_fro"] = max(w.get(f"{gname}_fro", 0.0), rf)
                            line += f" {gname} {eg[0]:.2e} (std {bg[0]:.2e}, x{rm:.2f}/{rf:.2f})"
                        if det:
                            w["bitwise"] = w.get("bitwise", True) and same
                            line += f" repeat {'bitwise' if same else 'DIFFERS'}"
                        results["check"].append(r)
                        log(line)
    for (name, terms, det), w in worst.items():
        ok = terms != 3 or (all(v <= 2.0 for kk, v in w.items() if kk != "bitwise") and w.get("bitwise", True))
        log(f"worst ratios [{name}] {terms}xTF32 {'det' if det else 'atomic'}: " +
            " ".join(f"{kk} {v:.2f}" if kk != "bitwise" else f"bitwise {v}" for kk, v in w.items()) +
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
            flops = 2.5 * 4.0 * B * H * N * N * D
            q, k, v, do = (torch.randn(B, H, N, D, device=dev) for _ in range(4))
            qg, kg, vg = (x.clone().requires_grad_(True) for x in (q, k, v))
            with sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION):
                out = F.scaled_dot_product_attention(qg, kg, vg)
            te = timed(lambda: torch.autograd.backward(out, do, retain_graph=True), args.reps)
            del out, qg, kg, vg
            line = f"bench D={D} N={N} B={B} H={H}: sdpa_efficient bwd {flops / te / 1e12:.1f}"
            row = {"D": D, "N": N, "B": B, "H": H, "sdpa_efficient_bwd_tflops": flops / te / 1e12}
            for name, lib in zip(NAMES, LIBS):
                o, lse = fwd(lib, q, k, v, False)
                for terms in [int(x) for x in args.terms.split(",")]:
                    for det in (False, True):
                        run = Bwd(lib, q, k, v, o, lse, do, False, terms, det)
                        t = timed(run, args.reps)
                        mode = "det" if det else "atomic"
                        row[f"{name}_{terms}x_{mode}_tflops"] = flops / t / 1e12
                        line += f"  {name} {terms}x {mode} {flops / t / 1e12:.1f} ({te / t:.2f}x)"
                        del run
                del o, lse
            results["bench"].append(row)
            log(line)
            del q, k, v, do
            torch.cuda.empty_cache()

out = args.out or tempfile.mkdtemp(prefix="fa32bwd_")
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, f"bench_fp32_bwd{args.tag}.json"), "w") as f:
    json.dump(results, f, indent=1)
with open(os.path.join(out, f"bench_fp32_bwd{args.tag}.log"), "w") as f:
    f.write("\n".join(log_lines) + "\n")
log("wrote", out)
