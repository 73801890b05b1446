// The tmlp program's commands, each a function of its parsed options.
#pragma once

#include <string>
#include <vector>

#include "cli/train_flags.hpp"

namespace tmlp::cli {

// Converts a CSV (or .npy) file to a memory-mappable .tmlpd dataset file; with a .npy file,
// targets (another .npy file with as many rows) adds its columns as target (or target_1, ...).
struct convert_options {
  std::string data, out, targets;
  std::vector<std::string> numeric, categorical;  // column kinds forced (CSV)
  int threads = 0;
  bool npy = false;  // data is a NumPy .npy file
  bool quiet = false;
};
int convert(const convert_options& o);

// Trains on o.data (see train_flags.hpp) and writes the model file; progress on stdout unless
// o.quiet, the epoch log to o.log if given.
int train(const train_options& o);

struct predict_cli_options {
  std::string model, data, out;
  bool proba = false;
};
int predict(const predict_cli_options& o);

struct evaluate_options {
  std::string model, data;
  bool json = false;
};
int evaluate(const evaluate_options& o);

int info(const std::string& model_path);

}  // namespace tmlp::cli
