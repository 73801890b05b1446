// The tmlp program. Subcommands are added as the library grows; each prints errors as one line
// on stderr and exits non-zero.
#include <cstdio>
#include <string>

#include <fmt/format.h>
#include <tbb/info.h>
#include <CLI/CLI.hpp>

#include "blas.hpp"
#include "cli/bench.hpp"
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
  auto* train = tmlp::cli::add_train_command(app, to);

  tmlp::cli::convert_options co;
  auto* convert = app.add_subcommand(
      "convert",
      "Convert a CSV file to a .tmlpd dataset: typed columns, memory-mapped when training (no "
      "parsing, and the data may be larger than RAM)");
  convert->add_option("data", co.data, "CSV (or .npy) file")->required()->check(CLI::ExistingFile);
  convert->add_option("out", co.out, "The .tmlpd file to write")->required();
  convert->add_option("--numeric", co.numeric, "Columns read as numbers (a,b,c)")->delimiter(',');
  convert->add_option("--categorical", co.categorical, "Columns read as categories (a,b,c)")
      ->delimiter(',');
  convert
      ->add_option("--targets", co.targets,
                   "With a .npy DATA: a .npy file of targets, added as column 'target' (or "
                   "target_1, target_2, ...)")
      ->check(CLI::ExistingFile);
  convert->add_option("--threads", co.threads, "Parsing threads (0: every core)");
  convert->add_flag("--quiet,-q", co.quiet, "Print nothing but errors");

  tmlp::cli::predict_cli_options po;
  auto* predict =
      app.add_subcommand("predict", "Predict every row of a CSV or .tmlpd file with a model");
  predict->add_option("model", po.model, "Model file")->required();
  predict->add_option("data", po.data, "CSV or .tmlpd file with the model's input columns")
      ->required();
  predict->add_option("-o,--out", po.out, "Output CSV (default: standard output)");
  predict->add_flag("--proba", po.proba, "Class probabilities instead of labels");

  tmlp::cli::evaluate_options eo;
  auto* evaluate =
      app.add_subcommand("evaluate", "Score a model on a file that has the target column");
  evaluate->add_option("model", eo.model, "Model file")->required();
  evaluate->add_option("data", eo.data, "CSV or .tmlpd file")->required();
  evaluate->add_flag("--json", eo.json,
                     "One JSON object (accuracy, log_loss, auc, f1 or rmse, mae, r2)");

  std::string info_path;
  auto* info = app.add_subcommand("info", "Describe a model file");
  info->add_option("model", info_path, "Model file")->required();

  tmlp::cli::bench_options bo;
  auto* bench = tmlp::cli::add_bench_command(app, bo);

  try {
    app.parse(argc, argv);
    if (system->parsed() && list_simd) {
      for (auto n : tmlp::kernels::available()) fmt::print("{}\n", n);
      return 0;
    }
    if (system->parsed()) return run_system();
    if (convert->parsed()) {
      co.npy = co.data.size() > 4 && co.data.substr(co.data.size() - 4) == ".npy";
      return tmlp::cli::convert(co);
    }
    if (train->parsed()) return tmlp::cli::train(to);
    if (predict->parsed()) return tmlp::cli::predict(po);
    if (evaluate->parsed()) return tmlp::cli::evaluate(eo);
    if (info->parsed()) return tmlp::cli::info(info_path);
    if (bench->parsed()) return tmlp::cli::bench(bo);
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
