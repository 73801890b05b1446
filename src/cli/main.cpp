// The tmlp program. Subcommands are added as the library grows; each prints errors as one line
// on stderr and exits non-zero.
#include <cstdio>
#include <string>

#include <fmt/format.h>
#include <tbb/info.h>
#include <CLI/CLI.hpp>

#include "blas.hpp"
#include "cli/commands.hpp"
#include "kernels.hpp"
#include "tmlp/error.hpp"
#include "tmlp/version.hpp"

namespace {

// `tmlp system`: what this machine and build give the library.
int run_system() {
  const auto& k = tmlp::kernels::active();
  std::string avail;
  for (auto n : tmlp::kernels::available()) avail += (avail.empty() ? "" : " ") + std::string(n);
  fmt::print("tmlp {}\n", tmlp::version_string);
  fmt::print("simd kernels : {} ({} float lanes); available: {}\n", k.name, k.lanes, avail);
  fmt::print("               set TMLP_SIMD=scalar|sse2|avx2|avx512 to force one\n");
  fmt::print("blas         : {}\n", tmlp::blas::describe());
  fmt::print("cpu threads  : {} (oneTBB default concurrency)\n", tbb::info::default_concurrency());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tmlp: fast multilayer perceptrons for tabular data on multicore CPUs", "tmlp"};
  app.set_version_flag("--version", std::string(tmlp::version_string));
  app.require_subcommand(1);
  auto* system = app.add_subcommand(
      "system", "Show the SIMD kernels, BLAS and threads this machine gives tmlp");
  bool list_simd = false;
  system->add_flag("--list-simd", list_simd,
                   "Print only the SIMD architectures usable here, one per line");

  tmlp::cli::train_options to;
  auto* train =
      app.add_subcommand("train", "Train a model on a CSV file and write it to a model file");
  train->add_option("data", to.data, "CSV file with a header row")
      ->required()
      ->check(CLI::ExistingFile);
  train->add_option("--target", to.target, "Name of the column to predict")->required();
  train->add_option("--out,-o", to.out, "Model file to write (default: DATA with extension .tmlp)");
  train
      ->add_option("--valid-fraction", to.valid_fraction,
                   "Fraction of rows held out for validation")
      ->capture_default_str();
  train->add_option("--layers", to.layers, "Hidden layer widths, comma-separated")
      ->capture_default_str();
  train->add_option("--activation", to.activation, "Hidden activation")->capture_default_str();
  train->add_option("--optimizer", to.optimizer, "sgd|momentum|nesterov|adam|adamw|rmsprop|adagrad")
      ->capture_default_str();
  train->add_option("--lr", to.lr, "Learning rate (default: the optimizer's)");
  train->add_option("--batch-size", to.batch_size, "Rows per step (1 = stochastic, 0 = full batch)")
      ->capture_default_str();
  train->add_option("--epochs", to.epochs, "Most epochs to run")->capture_default_str();
  train
      ->add_option("--early-stop", to.early_stop,
                   "Epochs without improvement before stopping (0: off)")
      ->capture_default_str();
  train->add_option("--threads", to.threads, "Worker threads (0: every core)")
      ->capture_default_str();
  train->add_option("--seed", to.seed, "Seed for initialization, shuffling and the split")
      ->capture_default_str();
  train->add_flag("--quiet,-q", to.quiet, "Print nothing but errors");

  tmlp::cli::predict_cli_options po;
  auto* predict = app.add_subcommand("predict", "Predict every row of a CSV file with a model");
  predict->add_option("model", po.model, "Model file")->required();
  predict->add_option("data", po.data, "CSV file with the model's input columns")->required();
  predict->add_option("-o,--out", po.out, "Output CSV (default: standard output)");
  predict->add_flag("--proba", po.proba, "Class probabilities instead of labels");

  tmlp::cli::evaluate_options eo;
  auto* evaluate =
      app.add_subcommand("evaluate", "Score a model on a CSV file that has the target column");
  evaluate->add_option("model", eo.model, "Model file")->required();
  evaluate->add_option("data", eo.data, "CSV file")->required();
  evaluate->add_flag("--json", eo.json,
                     "One JSON object (accuracy, log_loss, auc, f1 or rmse, mae, r2)");

  std::string info_path;
  auto* info = app.add_subcommand("info", "Describe a model file");
  info->add_option("model", info_path, "Model file")->required();

  try {
    app.parse(argc, argv);
    if (system->parsed() && list_simd) {
      for (auto n : tmlp::kernels::available()) fmt::print("{}\n", n);
      return 0;
    }
    if (system->parsed()) return run_system();
    if (train->parsed()) return tmlp::cli::train(to);
    if (predict->parsed()) return tmlp::cli::predict(po);
    if (evaluate->parsed()) return tmlp::cli::evaluate(eo);
    if (info->parsed()) return tmlp::cli::info(info_path);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {  // a bad flag or argument: one line, like every error
    std::fprintf(stderr, "tmlp: error: %s (see tmlp --help)\n", e.what());
    return e.get_exit_code();
  } catch (const tmlp::error& e) {
    std::fprintf(stderr, "tmlp: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tmlp: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
