#!/usr/bin/env bash
# Training across MPI ranks (Open MPI's mpirun, loopback): the model file of a run on R ranks is
# the bytes of the same run on one process, for R = 1..4 and 1 or 2 threads per rank, with
# batch norm, dropout and embeddings; checkpoints resume across rank counts; a rank killed with
# SIGKILL ends the run within seconds and leaves the old model and the last checkpoint usable;
# ranks started with different flags or files are refused with one line; the TCP transport
# gives the same bytes. Usage: distributed.sh TMLP_BINARY DATA_DIR
set -u
tmlp=$(realpath "$1")
data=$(realpath "$2")
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Root in a container, more ranks than cores: allowed here, for this test only.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi=(mpirun --oversubscribe --bind-to none)

# matrix NAME FLAGS...: one process, then R ranks x T threads, all identical.
matrix() {
  local name=$1
  shift
  "$tmlp" train "$@" --quiet --threads 2 -o "$work/$name.tmlp"
  check "$name: one process" $?
  local r t
  for r in 1 2 3 4; do
    for t in 1 2; do
      "${mpi[@]}" -np $r "$tmlp" train "$@" --quiet --threads $t -o "$work/$name.$r.$t.tmlp"
      cmp -s "$work/$name.tmlp" "$work/$name.$r.$t.tmlp"
      check "$name: $r ranks x $t threads, same bytes as one process" $?
    done
  done
}
matrix letter_bn_dropout "$data/letter.csv" --target target_letter --layers 64,32 --epochs 2 \
  --batch-size 512 --batch-norm --dropout 0.2 --seed 4
matrix telco_embeddings "$data/telco_churn.csv" --target target_churn --layers 32,16 --epochs 2 \
  --batch-size 300 --embedding-dim 3 --one-hot-max 2 --dropout 0.1 --clip-norm 1
# Batches of 2 shards: with 3 or 4 ranks some ranks have none.
matrix iris_small_batches "$data/iris.csv" --target target_species --layers 8 --epochs 3 \
  --batch-size 16 --batch-norm

# More shards than the default 16 (64 rows per shard of 2048): 32 shards over 3 and 4 ranks.
"$tmlp" train "$data/letter.csv" --target target_letter --layers 64 --epochs 2 --batch-size 2048 \
  --shard-rows 64 --max-shards 64 --quiet --threads 2 -o "$work/wide.tmlp"
for r in 3 4; do
  "${mpi[@]}" -np $r "$tmlp" train "$data/letter.csv" --target target_letter --layers 64 \
    --epochs 2 --batch-size 2048 --shard-rows 64 --max-shards 64 --quiet --threads 1 \
    -o "$work/wide.$r.tmlp"
  cmp -s "$work/wide.tmlp" "$work/wide.$r.tmlp"
  check "--max-shards 64 (32 shards): $r ranks, same bytes as one process" $?
done

# Each GEMM backend gives the same bytes on any number of ranks (and --precision bf16 through
# the scalar reference, on any CPU).
for g in openblas libxsmm; do
  gflags=(--target target_letter --layers 128,64 --residual --epochs 2 --batch-size 512 --quiet)
  TMLP_GEMM=$g "$tmlp" train "$data/letter.csv" "${gflags[@]}" --threads 2 -o "$work/g_$g.tmlp"
  TMLP_GEMM=$g "${mpi[@]}" -x TMLP_GEMM -np 3 "$tmlp" train "$data/letter.csv" "${gflags[@]}" \
    --threads 1 -o "$work/g_$g.3.tmlp"
  cmp -s "$work/g_$g.tmlp" "$work/g_$g.3.tmlp"
  check "TMLP_GEMM=$g: 3 ranks, same bytes as one process" $?
done
bflags=(--target target_letter --layers 64 --epochs 1 --batch-size 512 --precision bf16 --quiet)
TMLP_SIMD=scalar "$tmlp" train "$data/letter.csv" "${bflags[@]}" --threads 2 -o "$work/bf.tmlp"
TMLP_SIMD=scalar "${mpi[@]}" -x TMLP_SIMD -np 2 "$tmlp" train "$data/letter.csv" "${bflags[@]}" \
  --threads 1 -o "$work/bf.2.tmlp"
cmp -s "$work/bf.tmlp" "$work/bf.2.tmlp"
check "--precision bf16: 2 ranks, same bytes as one process" $?

# A .tmlpd file (memory-mapped; each rank gathers its shards' rows from the map).
"$tmlp" convert "$data/letter.csv" "$work/letter.tmlpd" --quiet
"$tmlp" train "$work/letter.tmlpd" --target target_letter --layers 64,32 --epochs 2 \
  --batch-size 512 --batch-norm --dropout 0.2 --seed 4 --quiet --threads 2 -o "$work/mapped.tmlp"
"${mpi[@]}" -np 3 "$tmlp" train "$work/letter.tmlpd" --target target_letter --layers 64,32 \
  --epochs 2 --batch-size 512 --batch-norm --dropout 0.2 --seed 4 --quiet --threads 1 \
  -o "$work/mapped.3.tmlp"
cmp -s "$work/mapped.tmlp" "$work/mapped.3.tmlp"
check ".tmlpd file: 3 ranks, same bytes as one process" $?

# The TCP transport instead of shared memory: the same bytes.
"${mpi[@]}" --mca btl self,tcp -np 3 "$tmlp" train "$data/letter.csv" --target target_letter \
  --layers 64,32 --epochs 2 --batch-size 512 --batch-norm --dropout 0.2 --seed 4 --quiet \
  --threads 1 -o "$work/tcp.tmlp"
cmp -s "$work/letter_bn_dropout.tmlp" "$work/tcp.tmlp"
check "3 ranks over TCP (--mca btl self,tcp): same bytes" $?

# Checkpoints across rank counts: a run on 2 ranks writes the same checkpoints as one process,
# and resuming on 3 ranks (or one process) ends with the uninterrupted run's bytes.
run=("$data/letter.csv" --target target_letter --layers 64,64 --batch-size 256 --epochs 6
  --early-stop 3 --schedule plateau:0.5:1 --lr 0.01 --batch-norm --seed 7 --quiet)
"$tmlp" train "${run[@]}" -o "$work/full.tmlp" --checkpoint "$work/one{epoch}.ckpt" \
  --checkpoint-every 2
"${mpi[@]}" -np 2 "$tmlp" train "${run[@]}" --threads 1 -o "$work/full2.tmlp" \
  --checkpoint "$work/two{epoch}.ckpt" --checkpoint-every 2
cmp -s "$work/full.tmlp" "$work/full2.tmlp" && cmp -s "$work/one2.ckpt" "$work/two2.ckpt" &&
  cmp -s "$work/one4.ckpt" "$work/two4.ckpt"
check "2 ranks: the same model and checkpoints as one process" $?
"${mpi[@]}" -np 3 "$tmlp" train "${run[@]}" --threads 1 -o "$work/r3.tmlp" \
  --resume "$work/one2.ckpt"
cmp -s "$work/full.tmlp" "$work/r3.tmlp"
check "one process's checkpoint resumed on 3 ranks: same bytes" $?
"$tmlp" train "${run[@]}" -o "$work/r1.tmlp" --resume "$work/two4.ckpt"
cmp -s "$work/full.tmlp" "$work/r1.tmlp"
check "2 ranks' checkpoint resumed on one process: same bytes" $?

# Ranks that disagree are refused before training, with one line naming the difference.
refused() {  # refused NAME EXPECTED-TEXT MPIRUN-ARGS...
  local name=$1 expect=$2
  shift 2
  "${mpi[@]}" "$@" >/dev/null 2>"$work/err"
  local rc=$?
  local lines
  lines=$(grep -c "tmlp: error" "$work/err")
  [[ $rc -ne 0 && $lines -eq 1 ]] && grep -q -- "$expect" "$work/err" && [[ ! -e "$work/refused.tmlp" ]]
  check "$name" $?
  grep "tmlp: error" "$work/err" | sed 's/^/     /'
}
flags=(--target target_letter --layers 16 --epochs 1 --quiet -o "$work/refused.tmlp")
refused "ranks with another --lr are refused" "ranks disagree on --lr: rank 1 has 0.02, rank 0 has 0.01" \
  -np 1 "$tmlp" train "$data/letter.csv" "${flags[@]}" --lr 0.01 : \
  -np 1 "$tmlp" train "$data/letter.csv" "${flags[@]}" --lr 0.02
mkdir -p "$work/a" "$work/b"
head -3000 "$data/letter.csv" >"$work/a/train.csv"
head -4000 "$data/letter.csv" >"$work/b/train.csv"
refused "ranks with another file at the same path are refused" "ranks disagree on file train.csv: rank 2 has" \
  -np 2 -wdir "$work/a" "$tmlp" train train.csv "${flags[@]}" : \
  -np 1 -wdir "$work/b" "$tmlp" train train.csv "${flags[@]}"
refused "a bad flag is one line, not one per rank" "--lr" \
  -np 3 "$tmlp" train "$data/letter.csv" "${flags[@]}" --lr -1

# SIGKILL of one rank mid-epoch, over a good model and with a checkpoint every epoch: the run
# ends within seconds with an error, the old model is untouched, and the last checkpoint
# resumes to the uninterrupted run's bytes.
long=("$data/letter.csv" --target target_letter --layers 256,256 --batch-size 64 --epochs 12
  --early-stop 0 --seed 3 --quiet --threads 1)
"$tmlp" train "${long[@]}" -o "$work/long_full.tmlp"
cp "$work/full.tmlp" "$work/target.tmlp"
"${mpi[@]}" -np 3 "$tmlp" train "${long[@]}" -o "$work/target.tmlp" \
  --checkpoint "$work/k.ckpt" --checkpoint-every 1 2>"$work/kill_err" &
launcher=$!
for _ in $(seq 100); do [[ -e "$work/k.ckpt" ]] && break; sleep 0.1; done
victim=$(pgrep -f "target.tmlp --checkpoint" | while read -r p; do
  [[ $(cat /proc/$p/comm 2>/dev/null) == tmlp ]] && echo "$p"; done | sed -n 2p)
killed_at=$(date +%s.%N)
[[ -n $victim ]] && kill -9 "$victim"
check "a rank to kill was found (pid ${victim:-none})" $?
timeout 60 tail --pid=$launcher -f /dev/null
wait $launcher
rc=$?
took=$(echo "$(date +%s.%N) - $killed_at" | bc)
[[ $rc -ne 0 ]]
check "the run ends with an error (exit $rc) after a rank is killed" $?
(($(echo "$took < 15" | bc)))
check "the other ranks stopped within seconds ($took s)" $?
cmp -s "$work/full.tmlp" "$work/target.tmlp"
check "the old model file is untouched" $?
[[ -z $(find "$work" -name 'target.tmlp.tmp*') ]]
check "no partial model file left beside it" $?
"$tmlp" train "${long[@]}" -o "$work/long_resumed.tmlp" --resume "$work/k.ckpt"
cmp -s "$work/long_full.tmlp" "$work/long_resumed.tmlp"
check "the last checkpoint resumes to the uninterrupted run's bytes" $?

# tmlp bench under mpirun: a row per rank with its phases, bytes and overlap. A chain rank
# sends at least the gradient each step (4 x 385 parameters).
"${mpi[@]}" -np 2 "$tmlp" bench --inputs 10 --layers 32 --outputs 1 --loss mse --optimizer sgd \
  --lr 0.01 --batch-size 256 --rows 4000 --threads 1 --min-time 0.05 --json "$work/b.json" \
  >"$work/b.txt"
/usr/bin/python3 - "$work/b.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["ranks"] == 2 and len(j["per_rank"]) == 2, j
for r in j["per_rank"]:
    assert set(r) >= {"step_s", "compute_s", "reduce_s", "wait_s", "update_s",
                      "bytes_sent_per_step", "overlap"}, r
    assert 0 <= r["wait_s"] <= r["reduce_s"] <= r["step_s"] and 0 <= r["overlap"] <= 1, r
assert j["per_rank"][0]["bytes_sent_per_step"] >= 4 * 385, j
assert j["samples_per_s"] > 0 and j["link_bandwidth_bytes_per_s"] > 0, j
PY
check "tmlp bench under mpirun: each rank's phases, bytes sent and overlap (JSON)" $?
# The same as a table on rank 0's stdout: the run's line, the link's and a row per rank.
grep -q "on 2 ranks x 1 threads: batch 256" "$work/b.txt" && grep -q "^link rank 0 - rank 1: " \
  "$work/b.txt" && [[ $(grep -cE '^ +[01] +[0-9.]+ ' "$work/b.txt") == 2 ]]
check "tmlp bench under mpirun: the same as a table" $?

# A rank that hangs (SIGSTOP) instead of dying: the others stop after --comm-timeout with one
# line naming the rank they waited for (or "the other ranks" in a collective), and the run
# ends; the old model stays.
cp "$work/full.tmlp" "$work/hang.tmlp"
"${mpi[@]}" -np 2 "$tmlp" train "${long[@]}" -o "$work/hang.tmlp" --comm-timeout 2 \
  2>"$work/hang_err" &
launcher=$!
sleep 1.5
stopped=$(pgrep -f "hang.tmlp --comm-timeout" | while read -r p; do
  [[ $(cat /proc/$p/comm 2>/dev/null) == tmlp ]] && echo "$p"; done | sed -n 2p)
[[ -n $stopped ]] && kill -STOP "$stopped"
stopped_at=$(date +%s.%N)
timeout 60 tail --pid=$launcher -f /dev/null
wait $launcher
rc=$?
took=$(echo "$(date +%s.%N) - $stopped_at" | bc)
[[ -n $stopped ]] && kill -KILL "$stopped" 2>/dev/null
[[ $rc -ne 0 && $(grep -c "tmlp: error" "$work/hang_err") -eq 1 ]] && grep -q "no answer from" "$work/hang_err" && (($(echo "$took < 30" | bc)))
check "a hung rank: the run ends after --comm-timeout 2 (exit $rc, $took s), one line" $?
grep "tmlp: error" "$work/hang_err" | sed 's/^/     /'
cmp -s "$work/full.tmlp" "$work/hang.tmlp"
check "a hung rank: the old model file is untouched" $?

finish
