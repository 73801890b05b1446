// `tmlp bench`: training and inference throughput of one MLP configuration on synthetic data,
// swept over thread counts, against the machine's single-thread GEMM limit and its FMA peak.
//
//     tmlp bench A --threads 1,2 --json a.json --csv a.csv
//     tmlp bench --inputs 10 --layers 64,64 --outputs 1 --activation tanh --loss mse
//                --optimizer sgd --lr 0.01 --batch-size 64 --rows 100000   (one line)
//
//     tmlp bench --list [--json]
//
// Named configurations (A, B, C, H) are those of the benchmark protocol (tmlp/bench.hpp); any
// flag given with a name overrides that field. Without a name the defaults are configuration
// A's. --list prints them (as a table, or as JSON with --json) and measures nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace tmlp::cli {

struct bench_options {
  std::string config_name;  // A, B, C, H, or empty: "custom" from the flags below
  // Overrides; empty or 0: the named configuration's value (A's without a name).
  std::string layers;      // hidden widths, comma-separated
  std::string activation;  // hidden activation
  std::string loss;        // mse, mae, huber, bce, ce
  std::string optimizer;   // sgd, momentum, nesterov, adam, adamw, rmsprop, adagrad
  float lr = 0.0f;
  float momentum = -1.0f;  // momentum and nesterov; < 0: the configuration's (0.9)
  std::size_t batch_size = 0;
  std::size_t rows = 0;
  std::size_t inputs = 0;
  std::size_t outputs = 0;
  std::string precision = "fp32";  // of the products while training: fp32 or bf16
  std::size_t shard_rows = 0;      // rows per shard (train_config::shard_rows); 0: its default

  std::string threads = "auto";  // "1,2,4"; auto: powers of two up to the cores, and the cores
  std::size_t warmup = 1;        // epochs run before the measured ones
  std::size_t repeats = 5;       // measured epochs (and inference rounds)
  std::string mode = "both";     // train, inference or both
  double min_time = 0.2;         // seconds per GEMM-limit round set, phase run, inference round
  std::size_t latency_n = 2000;  // most single-row predicts for the latency percentiles
  std::uint64_t seed = 0;
  std::string json, csv;    // files to write; empty: none
  bool json_given = false;  // --json was given (without a file: only with --list)
  bool list = false;        // print the named configurations instead of measuring
  bool quiet = false;       // no table, no progress
};

// Registers the `bench` subcommand with its flags bound to o; returns it.
CLI::App* add_bench_command(CLI::App& app, bench_options& o);

// Runs the benchmark; throws tmlp::error for a bad flag value. Returns the exit status.
int bench(const bench_options& o);

}  // namespace tmlp::cli
