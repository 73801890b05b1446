// The tmlp program's commands, each a function of its parsed options.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tmlp::cli {

struct train_options {
  std::string data, target, out;
  float valid_fraction = 0.2f;
  std::string layers = "128,64";
  std::string activation = "relu";
  std::string optimizer = "adam";
  float lr = 0.0f;  // 0: the optimizer's default
  std::size_t batch_size = 256;
  std::size_t epochs = 50;
  std::size_t early_stop = 5;
  int threads = 0;
  std::uint64_t seed = 0;
  bool quiet = false;
};
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
