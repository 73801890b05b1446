#!/usr/bin/env bash
# Smoke test of `tmlp bench` on a tiny custom configuration: the JSON has every field with sane
# and mutually consistent values (the FMA peak and the shares of it included), the CSV has a
# header and one row per thread count, --list (and --list --json) describes the named
# configurations as `tmlp bench NAME` runs them, and bad flags give one-line errors with a
# non-zero exit. Timings themselves are never asserted.
# Usage: bench_smoke.sh TMLP_BINARY
set -u
tmlp=$1
python=$(command -v /usr/bin/python3 || command -v python3) || {
  echo "FAIL python3 is needed to check the JSON"
  exit 1
}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$tmlp" bench --inputs 8 --layers 16,16 --outputs 3 --loss ce --optimizer momentum \
  --batch-size 64 --rows 2000 --threads 1,2 --repeats 2 --min-time 0.02 --latency-n 200 \
  --json "$work/b.json" --csv "$work/b.csv" >"$work/table.txt" 2>"$work/err.txt"
check "bench runs" $?
grep -q "^training" "$work/table.txt" && grep -q "^inference, batch 4096" "$work/table.txt"
check "bench prints the training and inference tables" $?
simd=$(sed -n 's/^machine .*, simd \([a-z0-9]*\),.*/\1/p' "$work/table.txt")
fma_line="^FMA peak    $simd (12 x [0-9]* lanes of FMA in registers): .* on 1 thread, .* on 2 threads"
grep -q "$fma_line" "$work/table.txt" && grep -q "^GEMM limit  .*% of the FMA peak" "$work/table.txt" \
  && grep -q "^threads .* % limit  % peak speedup" "$work/table.txt"
check "bench names the ISA of the FMA peak and prints its shares" $?
[ "$(nproc)" -lt 2 ] || grep -q "^cores       a cache line from CPU [0-9]* to .* ns one way at the start" \
  "$work/table.txt"
check "bench prints how far apart its CPUs are" $?

"$python" - "$work/b.json" <<'EOF'
import json, math, sys
r = json.load(open(sys.argv[1]))
def close(a, b): return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
c = r["config"]
assert c["name"] == "custom" and c["widths"] == [8, 16, 16, 3], c
w = 8 * 16 + 16 * 16 + 16 * 3
assert c["n_weights"] == w and c["train_flop_per_sample"] == 6 * w, c
assert c["loss"] == "ce" and c["optimizer"] == "momentum" and c["momentum"] == 0.9, c
assert c["precision"] == "fp32", c
assert r["machine"]["n_cores"] >= 1 and r["machine"]["simd"], r["machine"]
assert r["protocol"]["repeats"] == 2 and r["protocol"]["warmup_epochs"] == 1, r["protocol"]
g = r["gemm_limit"]
assert g["samples_per_s"] > 0 and close(g["samples_per_s"], 64 / g["step_seconds"]), g
assert [t["n_threads"] for t in r["threads"]] == [1, 2]
f = r["fma_peak"]
assert f["isa"] == r["machine"]["simd"] and f["n_vectors"] == 12 and f["lanes"] >= 1, f
assert [p["n_threads"] for p in f["threads"]] == [1, 2], f
peak = {p["n_threads"]: p["gflops"] for p in f["threads"]}
for p in f["threads"]:  # 2^20 steps of 2 FLOP per lane and vector, on each thread
    flop = 2 * f["n_vectors"] * f["lanes"] * 2 ** 20 * p["n_threads"]
    assert p["gflops"] > 0 and close(p["gflops"], flop / p["run_seconds"] / 1e9), p
assert close(g["pct_of_fma_peak"], 100 * g["gflops"] / peak[1]), g
k = r["core_latency"]  # null only with fewer than two CPUs to pin threads to
if k is not None:
    n = len(k["cpus"]) - 1
    assert 1 <= n <= 15 and k["cpus"] == sorted(set(k["cpus"])), k
    for when in ("start_ns_one_way", "end_ns_one_way"):
        assert len(k[when]) == n and all(v is None or 0 < v < 1e6 for v in k[when]), k
for t in r["threads"]:
    tr = t["train"]
    assert t["status"] == "completed" and t["n_workers"] >= 1 and t["n_shards"] >= 1, t
    assert t["n_workers"] <= min(t["n_threads"], t["n_shards"]), t
    assert len(tr["epoch_samples_per_s"]) == 2 and all(v > 0 for v in tr["epoch_samples_per_s"])
    s = tr["samples_per_s"]
    assert s["min"] <= s["median"] <= s["max"] and s["min"] > 0, s
    assert close(tr["gflops"]["median"], s["median"] * 6 * w / 1e9), tr
    limit = g["samples_per_s"] * min(t["n_threads"], r["machine"]["n_cores"])
    assert close(tr["gemm_limit_samples_per_s"], limit), tr
    assert close(tr["pct_of_gemm_limit"], 100 * s["median"] / limit), tr
    assert close(tr["fma_peak_gflops"], peak[t["n_threads"]]), tr
    assert close(tr["pct_of_fma_peak"], 100 * tr["gflops"]["median"] / peak[t["n_threads"]]), tr
    assert tr["efficiency"] is not None and tr["efficiency"] > 0, tr
    assert close(tr["efficiency"], tr["speedup"] / t["n_threads"]), tr
    ph = t["phases_us"]
    assert ph["n_steps"] >= 3 and ph["step"] > 0, ph
    assert all(ph[k] >= 0 for k in ("prepare", "gather", "forward", "backward", "reduce", "update")), ph
    inf = t["inference"]
    assert len(inf["round_samples_per_s"]) == 2 and inf["samples_per_s"]["median"] > 0, inf
    assert close(inf["gflops"]["median"], inf["samples_per_s"]["median"] * 2 * w / 1e9), inf
    assert close(inf["pct_of_fma_peak"], 100 * inf["gflops"]["median"] / peak[t["n_threads"]])
first = r["threads"][0]["train"]
assert close(first["speedup"], 1.0) and close(first["efficiency"], 1.0), first
l = r["latency"]
assert l["batch"] == 1 and 100 <= l["n"] <= 200, l
assert 0 < l["min_us"] <= l["p50_us"] <= l["p99_us"], l
EOF
check "bench JSON has every field, consistent" $?

[[ $(wc -l <"$work/b.csv") -eq 3 ]] && head -1 "$work/b.csv" | grep -q "^config,n_threads,n_workers" \
  && [[ $(head -1 "$work/b.csv" | tr ',' '\n' | wc -l) -eq $(sed -n 2p "$work/b.csv" | tr ',' '\n' | wc -l) ]]
check "bench CSV has a header and one full row per thread count" $?

# Inference only: no training fields, no GEMM limit; the FMA peak still, with the ISA forced.
"$tmlp" bench --inputs 4 --layers 8 --rows 500 --batch-size 50 --threads 1 --repeats 1 \
  --min-time 0.01 --latency-n 100 --mode inference --quiet --json "$work/i.json"
check "bench --mode inference runs quietly" $?
"$python" -c 'import json,sys; r=json.load(open(sys.argv[1])); t=r["threads"][0];
assert r["gemm_limit"] is None and t["train"] is None and t["inference"]["samples_per_s"]["median"] > 0
assert r["fma_peak"]["threads"][0]["gflops"] > 0 and t["inference"]["pct_of_fma_peak"] > 0' \
  "$work/i.json"
check "bench --mode inference JSON" $?
TMLP_SIMD=sse2 "$tmlp" bench --inputs 4 --layers 8 --rows 500 --batch-size 50 --threads 1 \
  --repeats 1 --min-time 0.01 --latency-n 100 --mode inference --quiet --json "$work/s.json" \
  && "$python" -c 'import json,sys; f=json.load(open(sys.argv[1]))["fma_peak"];
assert f["isa"] == "sse2" and f["lanes"] == 4 and f["threads"][0]["gflops"] > 0, f' "$work/s.json"
check "bench measures the FMA peak with the ISA TMLP_SIMD forces" $?
# --precision bf16 trains on bf16 products (TMLP_SIMD=scalar: on any CPU) and says so.
TMLP_SIMD=scalar "$tmlp" bench --inputs 4 --layers 8 --rows 500 --batch-size 50 --threads 1 \
  --repeats 1 --min-time 0.01 --mode train --precision bf16 --json "$work/bf.json" > "$work/bf.txt" \
  && grep -q "training products in bf16" "$work/bf.txt" \
  && "$python" -c 'import json,sys; r=json.load(open(sys.argv[1]));
assert r["config"]["precision"] == "bf16" and r["threads"][0]["train"]["samples_per_s"]["median"] > 0, r' \
    "$work/bf.json"
check "bench --precision bf16 trains and reports it" $?
# --shard-rows cuts the batch as tmlp train's does: 200 rows of 25 are 8 shards, of 100 are 2.
for rows_shards in 25:8 100:2; do
  "$tmlp" bench --inputs 4 --layers 8 --rows 1000 --batch-size 200 --threads 1 --repeats 1 \
    --min-time 0.01 --mode train --quiet --shard-rows "${rows_shards%:*}" --json "$work/sr.json" \
    && "$python" -c 'import json,sys; r=json.load(open(sys.argv[1]));
assert r["config"]["shard_rows"] == int(sys.argv[2]) and r["threads"][0]["n_shards"] == int(sys.argv[3]), r' \
      "$work/sr.json" "${rows_shards%:*}" "${rows_shards#*:}"
  check "bench --shard-rows ${rows_shards%:*} gives ${rows_shards#*:} shards and reports it" $?
done

# The named configurations: --list prints one row each; --list --json gives each one's fields,
# the same as those `tmlp bench NAME` reports running (but rows, set small here).
"$tmlp" bench --list >"$work/list.txt"
check "bench --list runs" $?
head -1 "$work/list.txt" | grep -q "^name *inputs *hidden" \
  && [[ $(tail -n +2 "$work/list.txt" | cut -d' ' -f1 | tr '\n' ' ') == "A B C H " ]]
check "bench --list prints a header and the rows A, B, C, H" $?
"$tmlp" bench --list --json >"$work/list.json"
check "bench --list --json runs" $?
for name in A B C H; do
  "$tmlp" bench "$name" --rows 300 --threads 1 --repeats 1 --min-time 0.01 --latency-n 100 \
    --mode inference --quiet --json "$work/named.json" \
    && "$python" - "$work/list.json" "$work/named.json" "$name" <<'EOF'
import json, sys
listed = {c["name"]: c for c in json.load(open(sys.argv[1]))}
assert list(listed) == ["A", "B", "C", "H"], list(listed)
c, r = listed[sys.argv[3]], json.load(open(sys.argv[2]))["config"]
assert c["rows"] == 200000 and r["rows"] == 300, (c, r)
assert r["name"] == c["name"], r
assert r["widths"] == [c["inputs"]] + c["hidden"] + [c["outputs"]], (c, r)
for k in ("activation", "loss", "optimizer", "lr", "momentum", "batch_size"):
    assert r[k] == c[k], (k, c, r)
EOF
  check "bench --list --json describes config $name as bench $name runs it" $?
done
one_line_error "--json without a file (no --list)" "--json: expected a file" "$tmlp" bench C --json
one_line_error "--list --json with a file" "takes no file" "$tmlp" bench --list --json "$work/l.json"

# Errors: one line on stderr, non-zero exit, nothing written.
bench_error() {  # bench_error NAME EXPECTED-TEXT ARGS...: tmlp bench fails, writing no JSON
  local name=$1 want=$2
  shift 2
  one_line_error "$name" "tmlp: error: " "$tmlp" bench "$@" --json "$work/bad.json"
  grep -q -- "$want" "$work/err" && [[ ! -e "$work/bad.json" ]]
  check "$name: names the problem, writes no JSON" $?
}
bench_error "bad config name" "unknown configuration 'Q'" Q
bench_error "bad --threads list" "--threads: '1,two'" A --threads 1,two
bench_error "zero thread count" "--threads: '0,2'" --threads 0,2
bench_error "bad --mode" "--mode" C --mode fast
bench_error "bad --precision" "--precision: unknown 'fp16'" C --precision fp16
bench_error "zero --shard-rows" "--shard-rows: 0; expected >= 1" C --shard-rows 0
bench_error "zero --min-time" "--min-time: 0; expected seconds in (0, 60]" C --min-time 0
bench_error "--rows past 2^32 - 1" "--rows: 5000000000 exceeds the limit" C --rows 5000000000
bench_error "bad --loss" "--loss: unknown 'hinge'" --inputs 4 --layers 8 --loss hinge
bench_error "--csv into a missing folder" "--csv: the folder" C --csv "$work/missing/b.csv"

finish
