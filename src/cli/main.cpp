// The tmlp program. Subcommands are added as the library grows; each prints errors as one line
// on stderr and exits non-zero.
#include <cstdio>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/bench.hpp"
#include "cli/commands.hpp"
#include "cli/tune.hpp"
#include "tmlp/distributed.hpp"
#include "tmlp/error.hpp"
#include "tmlp/onnx.hpp"
#include "tmlp/predictor.hpp"
#include "tmlp/system.hpp"
#include "tmlp/version.hpp"

namespace {

// `tmlp system`: what this machine and build give the library; with --list-simd only the
// usable SIMD architectures, one per line.
int run_system(bool list_simd) {
  if (list_simd) {
    for (const std::string& n : tmlp::simd_available()) fmt::print("{}\n", n);
    return 0;
  }
  const tmlp::system_info s = tmlp::system();
  std::string avail;
  for (const std::string& n : s.simd_available) avail += (avail.empty() ? "" : " ") + n;
  fmt::print("tmlp {}\n", s.version);
  fmt::print("simd kernels : {} ({} float lanes); available: {}\n", s.simd, s.simd_lanes, avail);
  fmt::print("               set TMLP_SIMD=scalar|sse2|avx2|avx512 to force one\n");
  fmt::print("blas         : {}\n", s.blas);
  fmt::print("gemm backend : {}\n", s.gemm);
  fmt::print("               set TMLP_GEMM=openblas|libxsmm|auto to choose one\n");
  fmt::print("cpu threads  : {} (oneTBB default concurrency)\n", s.n_threads);
  return 0;
}

CLI::App* add_convert_command(CLI::App& app, tmlp::cli::convert_options& co) {
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
  return convert;
}

CLI::App* add_predict_command(CLI::App& app, tmlp::cli::predict_cli_options& po) {
  auto* predict =
      app.add_subcommand("predict", "Predict every row of a CSV or .tmlpd file with a model");
  predict->add_option("model", po.model, "Model file")->required();
  predict->add_option("data", po.data, "CSV or .tmlpd file with the model's input columns")
      ->required();
  predict->add_option("-o,--out", po.out, "Output CSV (default: standard output)");
  predict->add_flag("--proba", po.proba, "Class probabilities instead of labels");
  return predict;
}

CLI::App* add_evaluate_command(CLI::App& app, tmlp::cli::evaluate_options& eo) {
  auto* evaluate =
      app.add_subcommand("evaluate", "Score a model on a file that has the target column");
  evaluate->add_option("model", eo.model, "Model file")->required();
  evaluate->add_option("data", eo.data, "CSV or .tmlpd file")->required();
  evaluate->add_flag("--json", eo.json,
                     "One JSON object (accuracy, log_loss, auc, f1 or rmse, mae, r2)");
  return evaluate;
}

struct export_options {
  std::string model, out, levels_from;
  tmlp::onnx_options onnx;
  bool features_only = false;
};

CLI::App* add_export_command(CLI::App& app, export_options& eo) {
  auto* ex = app.add_subcommand(
      "export",
      "Write a model as ONNX for serving runtimes: raw columns in (the preprocessing inside), "
      "labels and probabilities or values out, as tmlp predict gives them");
  ex->add_option("model", eo.model, "Model file")->required();
  ex->add_option("out", eo.out, "The .onnx file to write")->required();
  ex->add_option("--opset", eo.onnx.opset, "ONNX opset (17 to 21)")->capture_default_str();
  ex->add_option("--batch", eo.onnx.batch,
                 "The batch dimension: a name (symbolic) or a number of rows (fixed)")
      ->capture_default_str();
  ex->add_flag("--features-only", eo.features_only,
               "One float input of preprocessed features (rows x the model's inputs)");
  ex->add_option("--levels-from", eo.levels_from,
                 "CSV or .tmlpd file (the training data) whose texts of hashed categorical "
                 "columns the exported model maps to their buckets")
      ->check(CLI::ExistingFile);
  ex->add_flag("--raw", eo.onnx.raw, "With --features-only: outputs before the sigmoid or softmax");
  return ex;
}

int run_export(const export_options& eo) {
  const tmlp::predictor p = tmlp::predictor::load(eo.model);
  if (eo.features_only) {
    if (!eo.levels_from.empty())
      throw tmlp::error(tmlp::errc::invalid_argument,
                        "--levels-from: the texts of hashed columns are for the whole-model "
                        "export, not --features-only");
    tmlp::export_onnx(p.file(), eo.out, eo.onnx);  // an ensemble's members averaged
    return 0;
  }
  tmlp::onnx_options o = eo.onnx;
  if (!eo.levels_from.empty()) {
    const tmlp::data_source levels = p.open(eo.levels_from);
    tmlp::add_hashed_levels(o, p, levels.view());
  }
  tmlp::export_onnx(p, eo.out, o);
  if (const std::string notice = tmlp::onnx_notice(p, o); !notice.empty())
    std::fprintf(stderr, "%s\n", notice.c_str());
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

  tmlp::train_options to;
  auto* train = tmlp::cli::add_train_command(app, to);

  tmlp::cli::convert_options co;
  auto* convert = add_convert_command(app, co);
  tmlp::cli::predict_cli_options po;
  auto* predict = add_predict_command(app, po);
  tmlp::cli::evaluate_options eo;
  auto* evaluate = add_evaluate_command(app, eo);

  std::string info_path;
  auto* info = app.add_subcommand("info", "Describe a model file");
  info->add_option("model", info_path, "Model file")->required();
  export_options xo;
  auto* exp = add_export_command(app, xo);

  tmlp::cli::bench_options bo;
  auto* bench = tmlp::cli::add_bench_command(app, bo);

  tmlp::cli::tune_cli_options uo;
  auto* tune = tmlp::cli::add_tune_command(app, uo);

  try {
    app.parse(argc, argv);
    if (system->parsed()) return run_system(list_simd);
    if (convert->parsed()) {
      co.npy = co.data.size() > 4 && co.data.substr(co.data.size() - 4) == ".npy";
      return tmlp::cli::convert(co);
    }
    if (train->parsed()) return tmlp::cli::train(to);
    if (predict->parsed()) return tmlp::cli::predict(po);
    if (evaluate->parsed()) return tmlp::cli::evaluate(eo);
    if (info->parsed()) return tmlp::cli::info(info_path);
    if (bench->parsed()) return tmlp::cli::bench(bo);
    if (exp->parsed()) return run_export(xo);
    if (tune->parsed()) return tmlp::cli::tune(uo);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::Success& e) {  // --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {  // a bad flag or argument: one line, like every error
    if (!tmlp::mpi_started() && tmlp::launcher_rank() > 0) return e.get_exit_code();
    std::fprintf(stderr, "tmlp: error: %s (see tmlp --help)\n", e.what());
    return e.get_exit_code();
  } catch (const tmlp::collective_error& e) {  // raised alike on every rank: said once
    if (tmlp::launcher_rank() <= 0) std::fprintf(stderr, "tmlp: error: %s\n", e.what());
    return 1;
  } catch (const tmlp::error& e) {
    // Under mpirun, before MPI starts, an error comes from the command line, the same on every
    // rank: rank 0 alone says it (mpirun names a rank that fails alone). After, an error of
    // this rank alone names the rank and ends the other ranks, which may be waiting for it.
    const int rank = tmlp::launcher_rank();
    if (rank > 0 && !tmlp::mpi_started()) return 1;
    const std::string_view what = e.what();
    if (rank > 0 && what.substr(0, 5) != "rank ")
      std::fprintf(stderr, "tmlp: error: rank %d: %s\n", rank, e.what());
    else
      std::fprintf(stderr, "tmlp: error: %s\n", e.what());
    std::fflush(stderr);
    tmlp::mpi_abort(1);
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tmlp: internal error: %s\n", e.what());
    std::fflush(stderr);
    tmlp::mpi_abort(2);
    return 2;
  }
  return 0;
}
