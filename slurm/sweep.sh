#!/usr/bin/env bash
# Runs one shard of a numlab sweep per Slurm array task:
#   sbatch --array=0-3 slurm/sweep.sh configs/linsolve_sweep.yaml
# Each task writes results/<name>.shard<i>of<n>.h5 and resumes if re-queued.
# (Submission of the array plus a dependent merge job comes with the cluster issue.)
#SBATCH --job-name=numlab-sweep
#SBATCH --output=slurm-%A_%a.out
set -euo pipefail
config="${1:?usage: sbatch --array=0-N slurm/sweep.sh CONFIG}"
i="${SLURM_ARRAY_TASK_ID:-0}"
n="${SLURM_ARRAY_TASK_COUNT:-1}"
export OMP_PROC_BIND="${OMP_PROC_BIND:-spread}" OMP_PLACES="${OMP_PLACES:-threads}"
cd "${SLURM_SUBMIT_DIR:-$(dirname "$0")/..}"
extra=()
./numlab "$config" --shard "$i/$n" --resume "${extra[@]}"
