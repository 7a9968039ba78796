#!/usr/bin/env bash
# The cluster path on a real Slurm: starts a private one-node cluster on
# localhost (munged with its own key and socket, slurmctld and slurmd from the
# distribution's packages, everything under a temporary folder, free ports),
# submits
#   sbatch slurm/sweep.sh tests/data/slurm_small.yaml 3
# waits for the shard array and the merge job, checks the merged HDF5 holds
# every point 0..total-1 exactly once (and the report, if scripts/report.py
# exists), submits the sweep again to check the shards resume (nothing runs
# twice; a re-queued task retries its failed points), and tears the cluster
# down whatever happens.
#
#   tests/slurm/test_slurm_sweep.sh NUMLAB_BINARY SOURCE_DIR
# Exit 77 (ctest SKIP_RETURN_CODE) when Slurm is not installed.
# NUMLAB_SLURM_TEST_KEEP=1 keeps the temporary folder (logs, state, results).
set -uo pipefail

bin="$(realpath "${1:?usage: test_slurm_sweep.sh NUMLAB_BINARY SOURCE_DIR}")"
src="$(cd "${2:?usage: test_slurm_sweep.sh NUMLAB_BINARY SOURCE_DIR}" && pwd)"
timeout_s="${NUMLAB_SLURM_TEST_TIMEOUT:-300}"
for d in slurmctld slurmd sbatch scontrol; do
  if ! command -v "$d" > /dev/null && [ ! -x "/usr/sbin/$d" ]; then
    echo "SKIP: $d is not installed (scripts/install_deps.sh installs slurm-wlm)"
    exit 77
  fi
done
export PATH="$PATH:/usr/sbin:/sbin"
for d in munged munge; do
  command -v "$d" > /dev/null || { echo "FAIL: $d is not installed (scripts/install_deps.sh installs munge)"; exit 1; }
done
py=/usr/bin/python3

tmp="$(mktemp -d "${TMPDIR:-/tmp}/numlab-slurm.XXXXXX")"
chmod 755 "$tmp"  # jobs of a non-root user read it
pids=()
status=1
start=$SECONDS

log() { echo "[slurm-test $((SECONDS - start))s] $*"; }

dump_logs() {
  local f
  for f in "$tmp"/work/slurm-*.out; do
    [ -f "$f" ] && { echo "----- $f"; cat "$f"; }
  done
  for f in "$tmp"/log/*; do  # a daemon's .out only where it never opened its .log
    [ -f "$f" ] && { [ "${f%.out}" = "$f" ] || [ ! -s "${f%.out}.log" ]; } && { echo "----- $f (last 40 lines)"; tail -n 40 "$f"; }
  done
}

cleanup() {
  local rc=$?
  [ "$status" -eq 0 ] || rc=1
  if [ -f "$tmp/slurm.conf" ] && [ ${#pids[@]} -gt 0 ]; then
    # Jobs first (their processes belong to slurmstepd, not to us), then the daemons.
    local jobs
    jobs="$(squeue -h -o %i 2>/dev/null)"
    if [ -n "$jobs" ]; then
      # shellcheck disable=SC2086  # one job id per word
      scancel $jobs 2>/dev/null
      for _ in $(seq 20); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.5; done
    fi
  fi
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for _ in $(seq 20); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 0.5
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  [ "$rc" -ne 0 ] && dump_logs
  if [ "${NUMLAB_SLURM_TEST_KEEP:-0}" = 1 ]; then
    echo "kept $tmp"
  else
    rm -rf "$tmp"
  fi
  log "done, exit $rc"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
  echo "FAIL: $*"
  exit 1
}

# -------------------------------------------------------------------- munge --
mkdir -p "$tmp/munge" "$tmp/munge-key" "$tmp/log" "$tmp/state" "$tmp/spool" "$tmp/work"
chmod 755 "$tmp/munge"
chmod 700 "$tmp/munge-key" "$tmp/state"
head -c 1024 /dev/urandom > "$tmp/munge-key/munge.key"
chmod 400 "$tmp/munge-key/munge.key"
socket="$tmp/munge/munge.socket"
munged -F --force --socket="$socket" --key-file="$tmp/munge-key/munge.key" \
  --pid-file="$tmp/munge/munged.pid" --seed-file="$tmp/munge/munged.seed" --log-file="$tmp/log/munged.log" \
  > "$tmp/log/munged.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$socket" ] && break; sleep 0.2; done
munge -S "$socket" -n | unmunge -S "$socket" > /dev/null || fail "munged does not answer on $socket"
log "munged up"

# -------------------------------------------------------------------- slurm --
read -r port_ctld port_d < <($py -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
host="$(hostname -s 2>/dev/null || hostname)"
user="$(id -un)"
touch "$tmp/plugstack.conf"
export SLURM_CONF="$tmp/slurm.conf"
cat > "$SLURM_CONF" << EOF
# One node on localhost for tests/slurm/test_slurm_sweep.sh
ClusterName=numlabtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port_ctld
SlurmdPort=$port_d
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$tmp/plugstack.conf
TmpFS=$tmp
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
ReturnToService=2
MinJobAge=600
KillWait=5
InactiveLimit=0
NodeName=numlabnode NodeHostname=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=numlabnode Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -D -f "$SLURM_CONF" > "$tmp/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -N numlabnode -f "$SLURM_CONF" > "$tmp/log/slurmd.out" 2>&1 &
pids+=($!)
state=""
for _ in $(seq 120); do
  state="$(sinfo -h -n numlabnode -o %T 2>/dev/null)"
  [ "$state" = idle ] && break
  sleep 0.5
done
[ "$state" = idle ] || fail "the node did not come up (state '$state')"
log "slurmctld and slurmd up (ports $port_ctld, $port_d), node idle"

# ---------------------------------------------------------------- the sweep --
export NUMLAB_BIN="$bin" NUMLAB_SLURM_GRES='' NUMLAB_SLURM_CPUS=1
unset NUMLAB_ROOT NUMLAB_SLURM_PARTITION NUMLAB_SLURM_ACCOUNT NUMLAB_SLURM_ARGS NUMLAB_ARGS NUMLAB_REPORT \
  NUMLAB_RETRY_FAILED NUMLAB_ALLOW_INCOMPLETE NUMLAB_SLURM_LOGDIR NUMLAB_SLURM_TIME NUMLAB_SLURM_MEM
cd "$tmp/work" || fail "cannot enter $tmp/work"
config="$src/tests/data/slurm_small.yaml"
total=12
deadline=$((SECONDS + timeout_s))

job_states() { scontrol -o show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
wait_job() {  # JOBID: until every record of it (an array: every task) has ended
  local s
  while :; do
    s="$(job_states "$1")"
    if [ -n "$s" ] && ! grep -qvE '^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED)$' <<< "$s"; then
      return 0
    fi
    [ $SECONDS -lt $deadline ] || fail "job $1 still not done after ${timeout_s}s: $(tr '\n' ' ' <<< "$s")"
    sleep 1
  done
}

# Submits the sweep the way a user does: `sbatch slurm/sweep.sh CONFIG 3`, or
# with `direct` `slurm/sweep.sh CONFIG 3` from the login node; sets array_job and merge_job.
submit_sweep() {
  local sub ids
  if [ "${1:-}" = direct ]; then
    ids="$(bash "$src/slurm/sweep.sh" "$config" 3)" || fail "slurm/sweep.sh failed"
    sub="(none: slurm/sweep.sh run directly)"
  else
    sub="$(sbatch --parsable "$src/slurm/sweep.sh" "$config" 3)" || fail "sbatch slurm/sweep.sh failed"
    sub="${sub%%;*}"
    wait_job "$sub"
    [ "$(job_states "$sub")" = COMPLETED ] || fail "the submitting job $sub did not complete"
    ids="$(cat "slurm-numlab-submit-$sub.out")"
  fi
  array_job="$(sed -n 's/^submitted_array_job=//p' <<< "$ids")"
  merge_job="$(sed -n 's/^submitted_merge_job=//p' <<< "$ids")"
  if [ -z "$array_job" ] || [ -z "$merge_job" ]; then fail "no job ids from slurm/sweep.sh: $ids"; fi
  log "submitted by job $sub: shard array $array_job, merge job $merge_job"
  wait_job "$array_job"
  wait_job "$merge_job"
  local s
  s="$(job_states "$array_job" | sort | uniq -c | tr -s ' ')"
  [ "$(job_states "$array_job" | grep -c '^COMPLETED$')" = 3 ] || fail "shard tasks: $s (expected 3 COMPLETED)"
  [ "$(job_states "$merge_job")" = COMPLETED ] || fail "merge job $merge_job: $(job_states "$merge_job")"
  log "shards and merge COMPLETED"
}

check_merged() {
  local out=results/slurm_small.h5
  [ -f "$out" ] || fail "no merged file $out"
  for i in 0 1 2; do [ -f "results/slurm_small.shard${i}of3.h5" ] || fail "no shard file $i"; done
  $py - "$out" "$total" << 'EOF' || fail "the merged file is wrong"
import sys, h5py
path, total = sys.argv[1], int(sys.argv[2])
with h5py.File(path, "r") as f:
    names = sorted(f["points"].keys())
    idx = sorted(int(f["points"][n].attrs["point_index"]) for n in names)
    assert idx == list(range(total)), f"point_index {idx} != 0..{total - 1}"
    assert names == [f"p{i:06d}" for i in range(total)], names
    assert int(f.attrs["total_points"]) == total
    assert int(f.attrs["merged_points"]) == total
    assert f.attrs["name"] == "slurm_small"
    src = f.attrs["merged_from"].split("\n")
    assert len(src) == 3 and all(s.endswith(f"slurm_small.shard{i}of3.h5") for i, s in enumerate(src)), src
    for n in names:
        assert f["points"][n].attrs["status"] in ("solved", "converged"), (n, f["points"][n].attrs["status"])
print(f"{path}: points 0..{total - 1}, each once")
EOF
  if [ -f "$src/scripts/report.py" ]; then
    [ -f results/slurm_small_report/report.md ] || fail "scripts/report.py exists but wrote no results/slurm_small_report/report.md"
    log "report written: results/slurm_small_report/"
  fi
}

submit_sweep
check_merged
grep -q "all 3 shard tasks of job $array_job COMPLETED" slurm-numlab-merge-"$merge_job".out ||
  fail "the merge job did not see the shard tasks completed"

# A re-queued task resumes and runs again the points recorded as failed:
# mark one point of shard 1 failed, requeue that (finished) task.
$py - results/slurm_small.shard1of3.h5 << 'EOF' || fail "cannot edit the shard file"
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    f["points/p000004"].attrs["status"] = "failed"
EOF
scontrol requeue "${array_job}_1" || fail "scontrol requeue ${array_job}_1 failed"
# Slurm holds a re-queued job back for a while (BeginTime); let it start now.
scontrol update JobId="${array_job}_1" StartTime=now || fail "cannot set the StartTime of ${array_job}_1"
for _ in $(seq 10); do
  scontrol -o show job "${array_job}_1" | grep -q 'Restarts=1' && break
  sleep 0.5
done
wait_job "${array_job}_1"
task_log="slurm-numlab-${array_job}_1.out"
grep -q -- "--shard 1/3 --resume --retry-failed" "$task_log" || fail "the re-queued task did not retry: $(cat "$task_log")"
grep -q "4 points in shard 1/3, 1 to run" "$task_log" || fail "the re-queued task did not resume: $(cat "$task_log")"
point4="$($py -c 'import sys, h5py; print(h5py.File(sys.argv[1], "r")["points/p000004"].attrs["status"])' \
  results/slurm_small.shard1of3.h5)"
[ "$point4" != failed ] || fail "point 4 was not run again"
log "the re-queued task resumed and ran its failed point again"

# Again, straight from the "login node": every shard resumes from its file
# (nothing left to run), the merge is rebuilt.
first_array=$array_job
submit_sweep direct
[ "$array_job" != "$first_array" ] || fail "the second submission reused job $array_job"
for i in 0 1 2; do
  grep -q "4 points in shard $i/3, 0 to run" "slurm-numlab-${array_job}_$i.out" ||
    fail "shard $i of the second submission did not resume: $(cat "slurm-numlab-${array_job}_$i.out")"
done
check_merged
log "resubmission resumed every shard"

status=0
log "PASS: sweep of $total points in 3 Slurm shards merged, every point once"
