// SPDX-License-Identifier: MIT
#include "app/lab_plan.hpp"

namespace numlab {

std::vector<LabExperiment> lab_experiments(bool gpu) {
  std::vector<LabExperiment> all = {
      {"linsolve_sweep", "Task 1: GE, Gauss-Seidel, LAPACK on the N x density grid"},
      {"linsolve_nondominant", "Task 1: Gauss-Seidel on non-dominant matrices"},
      {"attn_sweep", "Task 2: standard, tiled, flash forward and backward over N and tiles"},
      {"attn_memory", "Task 2: peak memory against N"},
      {"attn_host_baselines", "Task 2: fair baselines (standard on BLAS, errors vs standard)"},
      {"attn_gpu_bf16_lab", "GPU: bf16 native standard, tiled, flash", true, true},
      {"attn_gpu_fp32", "GPU: fp32 flash forward at scale", true},
      {"attn_gpu_fp32_bwd", "GPU: fp32 flash backward at scale", true},
      {"linsolve_gpu", "GPU: dense GE at scale", true},
      {"poisson_gpu", "GPU: Gauss-Seidel sweeps on 2D Poisson at scale", true},
      {"poisson_gpu_iterations", "GPU: Gauss-Seidel iterations by ordering", true},
  };
  std::vector<LabExperiment> plan;
  for (auto const& e : all)
    if (gpu || !e.gpu) plan.push_back(e);
  return plan;
}

std::vector<LabPeer> lab_peers(bool gpu) {
  std::string const torch_host = "torch_standard,torch_lab_tiled,torch_lab_flash,torch_lab_tiled_bwd";
  std::string const sdpa = "sdpa_flash,sdpa_efficient,sdpa_cudnn,sdpa_math";
  std::vector<LabPeer> all = {
      {"scipy", "scipy_linsolve.py", "linsolve_sweep", {}, {"numpy", "scipy", "h5py"}, false, false,
       "SciPy (LAPACK gesv, SuperLU) on the linear-systems sweep"},
      {"numpy", "numpy_attention.py", "attn_host_baselines", {}, {"numpy", "h5py"}, false, false,
       "NumPy standard attention on the host baselines"},
      {"torch", "torch_attention.py", "attn_host_baselines", {"--device", "cpu", "--methods", torch_host},
       {"torch", "numpy", "h5py"}, false, true, "PyTorch on the CPU on the host baselines"},
      {"torch", "torch_attention.py", "attn_host_baselines", {"--methods", torch_host}, {"torch", "numpy", "h5py"},
       true, false, "PyTorch on the GPU on the baselines"},
      {"torch", "torch_attention.py", "attn_gpu_bf16_lab",
       {"--methods", "torch_standard,sdpa_math,sdpa_flash,sdpa_cudnn,flash_attn"}, {"torch", "numpy", "h5py"}, true,
       false, "PyTorch SDPA and flash-attn (where importable) on the bf16 comparison"},
      {"torch", "torch_attention.py", "attn_gpu_fp32", {"--methods", sdpa}, {"torch", "numpy", "h5py"}, true, false,
       "PyTorch SDPA on the fp32 forward"},
      {"torch", "torch_attention.py", "attn_gpu_fp32_bwd", {"--methods", sdpa}, {"torch", "numpy", "h5py"}, true, false,
       "PyTorch SDPA on the fp32 backward"},
      {"torch", "torch_linsolve.py", "linsolve_gpu", {"--methods", "torch_solve"}, {"torch", "numpy", "h5py"}, true,
       false, "torch.linalg.solve (cuSOLVER) on dense GE"},
      {"torch", "torch_linsolve.py", "poisson_gpu", {"--methods", "cusparse_spmv"}, {"torch", "numpy", "h5py"}, true,
       false, "cuSPARSE SpMV against the Gauss-Seidel sweeps"},
  };
  std::vector<LabPeer> plan;
  for (auto const& p : all)
    if ((gpu || !p.gpu) && !(gpu && p.host_only)) plan.push_back(p);
  return plan;
}

}  // namespace numlab
