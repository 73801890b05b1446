// tmlp bench: the subcommand's flags, the named configurations (tmlp/bench.hpp) and their list,
// validation, and the sweep over thread counts (measurements in bench_measure.cpp, output in
// bench_report.cpp).
#include "cli/bench.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <utility>
#include <variant>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/bench_measure.hpp"
#include "cli/bench_ranks.hpp"
#include "cli/bench_report.hpp"
#include "tmlp/bench.hpp"
#include "tmlp/distributed.hpp"
#include "tmlp/error.hpp"
#include "tmlp/system.hpp"
#include "tmlp/train_setup.hpp"

namespace tmlp::cli {
namespace {

constexpr std::size_t infer_batch = 4096;

[[noreturn]] void bad_flag(const std::string& what) { throw error(errc::invalid_argument, what); }

// "A, B, C or H": the names of the named configurations.
std::string config_names() {
  std::string out;
  const auto all = bench_configs();
  for (std::size_t i = 0; i < all.size(); ++i)
    out += (i == 0 ? "" : i + 1 == all.size() ? " or " : ", ") + all[i].name;
  return out;
}

// "1,2,4" -> {1, 2, 4}; what names the flag in the message.
std::vector<std::size_t> parse_list(const std::string& text, const char* what, const char* example,
                                    unsigned long max) {
  std::vector<std::size_t> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    const std::string part = text.substr(pos, comma - pos);
    char* end = nullptr;
    const unsigned long v = std::strtoul(part.c_str(), &end, 10);
    if (part.empty() || !std::isdigit(static_cast<unsigned char>(part[0])) || *end != '\0' ||
        v == 0 || v > max)
      bad_flag(fmt::format("{}: '{}' is not a list of positive thread counts like {}", what, text,
                           example));
    out.push_back(v);
    pos = comma + 1;
  }
  return out;
}

// --optimizer with its rate and, for momentum and Nesterov, its momentum m.
optimizer make_optimizer(const std::string& name, float lr, float m) {
  optimizer opt = parse_optimizer(name, lr);
  if (auto* o = std::get_if<momentum>(&opt)) o->momentum = m;
  if (auto* o = std::get_if<nesterov>(&opt)) o->momentum = m;
  return opt;
}

// The optimizer's own default learning rate (tmlp/trainer.hpp).
float default_lr(const std::string& name) {
  return std::visit([](const auto& o) { return o.lr; }, parse_optimizer(name, 0.0f));
}

// The named configuration (A's when none is named) with the flags' overrides applied.
bench_problem resolve(const bench_options& o) {
  std::string name = o.config_name;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  const bench_config* base = &bench_configs().front();
  if (!name.empty()) {
    base = find_bench_config(name);
    if (base == nullptr)
      bad_flag(fmt::format(
          "bench: unknown configuration '{}'; expected {} (or none, with --layers, --loss, ...)",
          o.config_name, config_names()));
  }
  const bool custom = !o.layers.empty() || !o.activation.empty() || !o.loss.empty() ||
                      !o.optimizer.empty() || o.lr > 0.0f || o.momentum >= 0.0f ||
                      o.batch_size > 0 || o.inputs > 0 || o.outputs > 0;

  bench_problem p;
  p.name = name.empty() ? "custom" : (custom ? name + "+custom" : name);
  p.rows = o.rows > 0 ? o.rows : base->rows;
  p.batch_size = o.batch_size > 0 ? o.batch_size : base->batch_size;
  p.optimizer_name = o.optimizer.empty() ? base->optimizer_name : o.optimizer;
  const bool same_opt = p.optimizer_name == base->optimizer_name;
  p.lr = o.lr > 0.0f ? o.lr : same_opt ? base->lr : default_lr(p.optimizer_name);
  const bool has_momentum = p.optimizer_name == "momentum" || p.optimizer_name == "nesterov";
  p.momentum = !has_momentum        ? 0.0f
               : o.momentum >= 0.0f ? o.momentum
               : same_opt           ? base->momentum
                                    : 0.9f;
  p.opt = make_optimizer(p.optimizer_name, p.lr, p.momentum);

  const activation act = o.activation.empty() ? base->act : parse_activation(o.activation);
  p.spec.loss = base->loss;
  if (!o.loss.empty()) {
    const auto l = loss_from_string(o.loss);
    if (!l)
      bad_flag(fmt::format("--loss: unknown '{}'; expected mse, mae, huber, bce or ce", o.loss));
    p.spec.loss = *l;
  }
  p.spec.n_inputs = o.inputs > 0 ? o.inputs : base->n_inputs;
  const std::vector<std::size_t> hidden = o.layers.empty() ? base->hidden : parse_widths(o.layers);
  for (std::size_t w : hidden) p.spec.layers.push_back({.units = w, .act = act});
  p.spec.layers.push_back(
      {.units = o.outputs > 0 ? o.outputs : base->n_outputs, .act = activation::identity});
  p.spec.seed = o.seed;
  if (o.precision == "bf16")
    p.precision = gemm_precision::bf16;
  else if (o.precision != "fp32")
    bad_flag(fmt::format("--precision: unknown '{}'; expected fp32 or bf16", o.precision));

  if (o.shard_rows > 0) p.shard_rows = o.shard_rows;

  if (p.rows >= (std::size_t{1} << 32))
    bad_flag(fmt::format("--rows: {} exceeds the limit of 2^32 - 1", p.rows));
  (void)model::create(p.spec);  // validates the spec (throws tmlp::error naming the field)
  (void)trainer(train_config{.opt = p.opt, .batch_size = p.batch_size});  // and the optimizer
  return p;
}

std::vector<int> thread_counts(const std::string& text, int n_cores) {
  std::vector<int> t;
  if (text == "auto") {
    for (int n = 1; n <= n_cores; n *= 2) t.push_back(n);
    t.push_back(n_cores);
  } else {
    for (std::size_t n : parse_list(text, "--threads", "1,2,4", 4096))
      t.push_back(static_cast<int>(n));
  }
  std::sort(t.begin(), t.end());
  t.erase(std::unique(t.begin(), t.end()), t.end());
  return t;
}

void check_options(const bench_options& o) {
  if (o.json_given && o.json.empty()) bad_flag("--json: expected a file (or --list)");
  if (o.mode != "train" && o.mode != "inference" && o.mode != "both")
    bad_flag(fmt::format("--mode: unknown '{}'; expected train, inference or both", o.mode));
  if (o.repeats == 0) bad_flag("--repeats: 0; expected at least 1 measured epoch");
  if (!(o.min_time > 0.0 && o.min_time <= 60.0))
    bad_flag(fmt::format("--min-time: {}; expected seconds in (0, 60]", o.min_time));
  if (o.latency_n == 0) bad_flag("--latency-n: 0; expected at least 1 call");
  // Output folders are checked now rather than after a run of minutes.
  for (const auto& [flag, path] : {std::pair{"--json", &o.json}, std::pair{"--csv", &o.csv}}) {
    const std::filesystem::path dir = std::filesystem::path(*path).parent_path();
    if (!path->empty() && !dir.empty() && !std::filesystem::is_directory(dir))
      bad_flag(fmt::format("{}: the folder of '{}' does not exist", flag, *path));
  }
}

// The report's description of the run, before anything is measured.
bench_report start_report(const bench_problem& p, const bench_options& o, const system_info& sys,
                          const std::string& blas_note) {
  bench_report r;
  r.problem = p;
  r.warmup = o.warmup;
  r.repeats = o.repeats;
  r.seed = o.seed;
  r.mode = o.mode;
  r.n_cores = sys.n_threads;
  if (!blas_note.empty()) r.notes.push_back(blas_note);
  r.simd = sys.simd;
  r.blas = sys.blas;
  r.gemm = sys.gemm;
  r.infer_batch = infer_batch;
  return r;
}

}  // namespace

CLI::App* add_bench_command(CLI::App& app, bench_options& o) {
  auto* b = app.add_subcommand(
      "bench", "Measure training and inference throughput on synthetic data across thread counts");
  b->add_option("config,--config-name", o.config_name,
                "Named configuration: A, B, C or H (BENCHMARKS.md); flags below override it");
  b->add_option("--layers", o.layers, "Hidden layer widths, comma-separated");
  b->add_option("--activation", o.activation, "Hidden activation");
  b->add_option("--loss", o.loss, "mse|mae|huber|bce|ce");
  b->add_option("--optimizer", o.optimizer, "sgd|momentum|nesterov|adam|adamw|rmsprop|adagrad");
  b->add_option("--lr", o.lr, "Learning rate");
  b->add_option("--momentum", o.momentum, "Momentum (momentum, nesterov)");
  b->add_option("--batch-size", o.batch_size, "Rows per step");
  b->add_option("--rows", o.rows, "Synthetic training rows (default 200000)");
  b->add_option("--inputs", o.inputs, "Input columns");
  b->add_option("--outputs", o.outputs, "Outputs (classes for ce)");
  b->add_option("--precision", o.precision,
                "fp32|bf16: the products' number format while training, as tmlp train's "
                "--precision (the GEMM limit and inference stay fp32)")
      ->capture_default_str();
  b->add_option("--shard-rows", o.shard_rows,
                "Rows per shard while training, as tmlp train's --shard-rows (default 64)")
      ->check([](const std::string& v) {
        return v.find_first_not_of('0') == std::string::npos ? std::string("0; expected >= 1")
                                                             : std::string();
      });
  b->add_option("--threads", o.threads,
                "Thread counts, comma-separated, or auto: powers of two up to the cores, and the "
                "cores")
      ->capture_default_str();
  b->add_option("--warmup", o.warmup, "Warm-up epochs, not measured")->capture_default_str();
  b->add_option("--repeats", o.repeats, "Measured epochs and inference rounds")
      ->capture_default_str();
  b->add_option("--mode", o.mode, "train, inference or both")->capture_default_str();
  b->add_option("--min-time", o.min_time,
                "Seconds per inference round, phase run and GEMM-limit measurement")
      ->capture_default_str();
  b->add_option("--latency-n", o.latency_n, "Most single-row predicts timed for latency")
      ->capture_default_str();
  b->add_option("--seed", o.seed, "Seed of the data, the initialization and the shuffling")
      ->capture_default_str();
  b->add_flag("--list", o.list,
              "Print the named configurations (with --json: as JSON) and measure nothing");
  auto* json =
      b->add_option("--json", o.json, "Write the results as JSON to this file")->expected(0, 1);
  b->add_option("--csv", o.csv, "Write one CSV row per thread count to this file");
  b->add_flag("--quiet,-q", o.quiet, "Print nothing but errors");
  b->callback([&o, json] { o.json_given = json->count() > 0; });
  return b;
}

int bench(const bench_options& o) {
  if (o.list) {
    if (!o.json.empty())
      bad_flag(
          fmt::format("--json: '{}'; with --list, --json prints to standard output and "
                      "takes no file",
                      o.json));
    print_configs(bench_configs(), o.json_given);
    return 0;
  }
  check_options(o);
  const bench_problem p = resolve(o);
  if (launched_by_mpi()) {  // one step across the ranks, on the first thread count given
    const std::unique_ptr<communicator> world = mpi_world();
    ensure_single_threaded_blas();
    const std::vector<int> t = thread_counts(o.threads, system().n_threads);
    return bench_ranks(p, t.front(), o.min_time * 5, o.seed, o.json, o.quiet, *world);
  }
  // BLAS first: the system's description names its thread count.
  const std::string blas_note = ensure_single_threaded_blas();
  const system_info sys = system();
  const int n_cores = sys.n_threads;
  const std::vector<int> threads = thread_counts(o.threads, n_cores);
  const bool train = o.mode != "inference", infer = o.mode != "train";
  // Arenas of more threads than cores get them (oversubscription is the user's request).
  const bench_thread_allowance allow(static_cast<std::size_t>(std::max(threads.back(), n_cores)));
  const auto progress = [&](const std::string& what) {
    if (!o.quiet) std::fprintf(stderr, "bench: %s\n", what.c_str());
  };

  bench_report r = start_report(p, o, sys, blas_note);

  progress(fmt::format("config {}: {} synthetic rows", p.name, p.rows));
  const bench_data d = make_bench_data(p.spec, p.rows, infer_batch, o.seed);
  r.cores = find_cores();
  if (r.cores) {
    progress("cache-line times between CPUs");
    r.cores->start_ns = measure_core_latency(*r.cores);
  }
  progress("FMA peak");
  r.fma = measure_fma_peak(threads, o.min_time);
  if (train) {
    progress("GEMM limit of one thread");
    r.gemm_limit = measure_gemm_limit(p, o.min_time);
  }
  std::optional<model> last;
  for (int t : threads) {
    bench_threads row;
    row.n_threads = t;
    if (train) {
      progress(fmt::format("{} thread(s): {} + {} epochs", t, o.warmup, o.repeats));
      last = measure_training(p, d, t, o.warmup, o.repeats, o.seed, row);
      if (row.status != "completed")
        r.notes.push_back(fmt::format("{} thread(s): training ended {} after {} measured epochs", t,
                                      row.status, row.epoch_samples_per_s.size()));
      progress(fmt::format("{} thread(s): phases", t));
      row.phases = measure_phases(p, d, t, o.min_time, o.seed);
    }
    if (infer) {
      if (!last) last = model::create(p.spec);
      progress(fmt::format("{} thread(s): inference", t));
      row.infer_round_samples_per_s = measure_inference(*last, d, t, o.repeats, o.min_time);
    }
    r.threads.push_back(std::move(row));
  }
  if (infer) {
    progress("latency");
    r.latency = measure_latency(*last, d, o.latency_n, o.min_time);
  }
  if (r.cores) r.cores->end_ns = measure_core_latency(*r.cores);
  derive(r);
  if (!o.quiet) print_table(r);
  if (!o.json.empty()) write_json(r, o.json);
  if (!o.csv.empty()) write_csv(r, o.csv);
  return 0;
}

}  // namespace tmlp::cli
