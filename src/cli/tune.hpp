// `tmlp tune`: a search over train-flag values (tmlp/tune.hpp) from the command line.
//
//     tmlp::cli::tune_cli_options o;
//     CLI::App* tune = tmlp::cli::add_tune_command(app, o);
//     app.parse(argc, argv);
//     if (tune->parsed()) return tmlp::cli::tune(o);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace tmlp::cli {

struct tune_cli_options {
  std::string data, target, valid;
  float valid_fraction = 0.2f;
  std::vector<std::string> numeric, categorical, ignore;
  std::string budget, space, out, journal, log;
  std::string metric = "loss";  // loss | score
  std::uint64_t epochs = 27, min_epochs = 1, eta = 3, seed = 0, folds = 0;
  int threads = 0;
  bool quiet = false;
};

// Adds the `tune` subcommand; o must outlive app.
CLI::App* add_tune_command(CLI::App& app, tune_cli_options& o);

// Runs the search, prints the leaderboard and writes the best model (atomically), the journal
// and the --log table.
int tune(const tune_cli_options& o);

}  // namespace tmlp::cli
