// tmlp bench: derived figures and the table, JSON and CSV renderings (see bench_report.hpp).
#include "cli/bench_report.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tmlp/error.hpp"
#include "tmlp/version.hpp"

namespace tmlp::cli {

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

bool trained(const bench_threads& t) { return !t.epoch_samples_per_s.empty(); }
bool inferred(const bench_threads& t) { return !t.infer_round_samples_per_s.empty(); }

// 1234567.8 -> "1,234,568"; NaN -> "-".
std::string grouped(double v) {
  if (!std::isfinite(v)) return "-";
  std::string digits = fmt::format("{:.0f}", std::abs(v)), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  if (v < 0 && digits != "0") out.insert(out.begin(), '-');
  return out;
}

std::string fixed(double v, int decimals) {
  return std::isfinite(v) ? fmt::format("{:.{}f}", v, decimals) : "-";
}

std::string spread(const bench_stats& s) {
  return fmt::format("{} ({} - {})", grouped(s.median), grouped(s.min), grouped(s.max));
}

std::string join_widths(const std::vector<std::size_t>& w) {
  std::string s;
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (i > 0) s += '-';
    s += std::to_string(w[i]);
  }
  return s;
}

nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nullptr; }

// A float as the shortest decimal that reads back as it (0.001f -> 0.001, not 0.0010000000475).
double shortest(float v) { return std::stod(fmt::format("{}", v)); }

// "256,256"
std::string comma_list(const std::vector<std::size_t>& w) {
  std::string out;
  for (std::size_t v : w) {
    if (!out.empty()) out += ',';
    out += std::to_string(v);
  }
  return out;
}

nlohmann::json stats_json(const bench_stats& s) {
  return {{"median", number(s.median)}, {"min", number(s.min)}, {"max", number(s.max)}};
}

nlohmann::json list_json(const std::vector<double>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (double x : v) a.push_back(number(x));
  return a;
}

std::ofstream open_out(const std::string& path) {
  std::ofstream f(path);
  if (!f) throw error(errc::io, fmt::format("bench: cannot open '{}' for writing", path));
  return f;
}

void check_written(std::ofstream& f, const std::string& path) {
  f.flush();
  if (!f) throw error(errc::io, fmt::format("bench: writing '{}' failed", path));
}

}  // namespace

std::vector<std::size_t> bench_problem::widths() const {
  std::vector<std::size_t> w{spec.n_inputs};
  for (const auto& l : spec.layers) w.push_back(l.units);
  return w;
}

std::size_t bench_problem::n_weights() const {
  const std::vector<std::size_t> w = widths();
  std::size_t n = 0;
  for (std::size_t i = 0; i + 1 < w.size(); ++i) n += w[i] * w[i + 1];
  return n;
}

double bench_fma::gflops_at(int n_threads) const {
  for (const bench_fma_peak& p : peaks)
    if (p.n_threads == n_threads) return p.gflops;
  return nan;
}

// "a cache line from CPU 0 to CPU 1: 44 ns one way at the start, 190 ns at the end", or with
// more CPUs, the least, median and most over the others.
static std::string describe_cores(const bench_core_latency& c) {
  auto when = [&](const std::vector<double>& ns) {
    if (ns.empty()) return std::string("-");
    if (ns.size() == 1) return fmt::format("{} ns", fixed(ns[0], 0));
    const bench_stats s = bench_stats::of(ns);
    return fmt::format("{} - {} ns (median {})", fixed(s.min, 0), fixed(s.max, 0),
                       fixed(s.median, 0));
  };
  const std::string to = c.cpus.size() == 2 ? fmt::format("CPU {}", c.cpus[1])
                                            : fmt::format("each of {} others", c.cpus.size() - 1);
  return fmt::format("a cache line from CPU {} to {}: {} one way at the start, {} at the end",
                     c.cpus[0], to, when(c.start_ns), when(c.end_ns));
}

bench_stats bench_stats::of(std::vector<double> v) {
  if (v.empty()) return {nan, nan, nan};
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  const double median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  return {median, v.front(), v.back()};
}

void derive(bench_report& r) {
  const double w = static_cast<double>(r.problem.n_weights());
  const bench_threads* base = nullptr;
  for (auto& t : r.threads) {
    t.train_samples_per_s = bench_stats::of(t.epoch_samples_per_s);
    t.train_gflops = t.train_samples_per_s.scaled(6.0 * w * 1e-9);
    t.infer_samples_per_s = bench_stats::of(t.infer_round_samples_per_s);
    t.infer_gflops = t.infer_samples_per_s.scaled(2.0 * w * 1e-9);
    if (!base && trained(t)) base = &t;
  }
  const auto fma_at = [&](int n) { return r.fma ? r.fma->gflops_at(n) : nan; };
  if (r.gemm_limit) r.gemm_limit->pct_of_fma_peak = 100.0 * r.gemm_limit->gflops / fma_at(1);
  for (auto& t : r.threads) {
    t.gemm_limit_samples_per_s = t.pct_of_gemm_limit = t.speedup = t.efficiency = nan;
    t.fma_peak_gflops = fma_at(t.n_threads);
    t.pct_of_fma_peak = 100.0 * t.train_gflops.median / t.fma_peak_gflops;
    t.infer_pct_of_fma_peak = 100.0 * t.infer_gflops.median / t.fma_peak_gflops;
    if (!trained(t)) continue;
    if (r.gemm_limit) {
      t.gemm_limit_samples_per_s =
          r.gemm_limit->samples_per_s * std::min(t.n_threads, std::max(r.n_cores, 1));
      t.pct_of_gemm_limit = 100.0 * t.train_samples_per_s.median / t.gemm_limit_samples_per_s;
    }
    t.speedup = t.train_samples_per_s.median / base->train_samples_per_s.median;
    t.efficiency = t.speedup * base->n_threads / t.n_threads;
  }
}

namespace {

// The lines above the tables: the problem, the machine and its limits, the protocol.
void print_header(const bench_report& r) {
  const bench_problem& p = r.problem;
  const double w = static_cast<double>(p.n_weights());
  fmt::print("tmlp bench  config {}: {} {}, {}, {} lr {:g}{}, batch {}, {} rows{}\n", p.name,
             join_widths(p.widths()), to_string(p.spec.layers.front().act), to_string(p.spec.loss),
             p.optimizer_name, p.lr,
             p.momentum > 0.0f ? fmt::format(" momentum {:g}", p.momentum) : "", p.batch_size,
             grouped(static_cast<double>(p.rows)),
             p.precision == gemm_precision::bf16 ? ", training products in bf16" : "");
  fmt::print("            W = {} weights: {} FLOP per sample trained, {} inferred\n", grouped(w),
             grouped(6.0 * w), grouped(2.0 * w));
  fmt::print("machine     {} cores, simd {}, {}\n", r.n_cores, r.simd, r.blas);
  fmt::print("gemm        {}\n", r.gemm);
  if (r.cores) fmt::print("cores       {}\n", describe_cores(*r.cores));
  if (r.fma) {
    std::string peaks;
    for (const bench_fma_peak& f : r.fma->peaks)
      peaks += fmt::format("{}{} GFLOP/s on {} thread{}", peaks.empty() ? "" : ", ",
                           fixed(f.gflops, 1), f.n_threads, f.n_threads == 1 ? "" : "s");
    fmt::print("FMA peak    {} ({} x {} lanes of FMA in registers): {}\n", r.fma->isa,
               r.fma->n_vectors, r.fma->lanes, peaks);
  }
  if (r.gemm_limit)
    fmt::print(
        "GEMM limit  one thread: {} samples/s ({} GFLOP/s, {}% of the FMA peak); T threads: x "
        "min(T, cores)\n",
        grouped(r.gemm_limit->samples_per_s), fixed(r.gemm_limit->gflops, 1),
        fixed(r.gemm_limit->pct_of_fma_peak, 1));
  fmt::print(
      "protocol    {} warm-up epoch(s), {} measured epochs / inference rounds; median "
      "(min - max); % limit: of the GEMM limit, % peak: of the FMA peak at that thread count\n",
      r.warmup, r.repeats);
}

}  // namespace

void print_table(const bench_report& r) {
  print_header(r);

  const bool any_train = std::any_of(r.threads.begin(), r.threads.end(), trained);
  const bool any_infer = std::any_of(r.threads.begin(), r.threads.end(), inferred);
  if (any_train) {
    fmt::print("\ntraining\n{:>7} {:>7} {:>6}  {:<36} {:>8} {:>7} {:>7} {:>7} {:>6}\n", "threads",
               "workers", "shards", "samples/s (min - max)", "GFLOP/s", "% limit", "% peak",
               "speedup", "eff");
    for (const auto& t : r.threads) {
      if (!trained(t)) continue;
      fmt::print("{:>7} {:>7} {:>6}  {:<36} {:>8} {:>7} {:>7} {:>7} {:>5}%{}\n", t.n_threads,
                 t.n_workers, t.n_shards, spread(t.train_samples_per_s),
                 fixed(t.train_gflops.median, 1), fixed(t.pct_of_gemm_limit, 1),
                 fixed(t.pct_of_fma_peak, 1), fixed(t.speedup, 2), fixed(100.0 * t.efficiency, 0),
                 t.status == "completed" ? std::string() : fmt::format("  ({})", t.status));
    }
    // "prepare" (weights transposed or rounded once per step) only where a step had any.
    bool prepared = false;
    for (const auto& t : r.threads) prepared = prepared || t.phases.prepare > 0.0;
    fmt::print(
        "\nphases, microseconds per step (gather, forward, backward: summed over workers;"
        " {}reduce, update, step: wall clock)\n{:>7} {:>10} {}{:>10} {:>10} {:>10} {:>10} "
        "{:>10} {:>7}\n",
        prepared ? "prepare, " : "", "threads", "step",
        prepared ? fmt::format("{:>10} ", "prepare") : "", "gather", "forward", "backward",
        "reduce", "update", "steps");
    for (const auto& t : r.threads) {
      if (t.phases.n_steps == 0) continue;
      const bench_phases& ph = t.phases;
      fmt::print("{:>7} {:>10} {}{:>10} {:>10} {:>10} {:>10} {:>10} {:>7}\n", t.n_threads,
                 fixed(ph.step, 1), prepared ? fmt::format("{:>10} ", fixed(ph.prepare, 1)) : "",
                 fixed(ph.gather, 1), fixed(ph.forward, 1), fixed(ph.backward, 1),
                 fixed(ph.reduce, 1), fixed(ph.update, 1), ph.n_steps);
    }
  }
  if (any_infer) {
    fmt::print("\ninference, batch {}\n{:>7}  {:<36} {:>8} {:>7}\n", r.infer_batch, "threads",
               "samples/s (min - max)", "GFLOP/s", "% peak");
    for (const auto& t : r.threads)
      if (inferred(t))
        fmt::print("{:>7}  {:<36} {:>8} {:>7}\n", t.n_threads, spread(t.infer_samples_per_s),
                   fixed(t.infer_gflops.median, 1), fixed(t.infer_pct_of_fma_peak, 1));
  }
  if (r.latency)
    fmt::print(
        "\nlatency, batch 1, one thread: p50 {} us, p99 {} us, mean {} us, min {} us "
        "({} calls)\n",
        fixed(r.latency->p50_us, 1), fixed(r.latency->p99_us, 1), fixed(r.latency->mean_us, 1),
        fixed(r.latency->min_us, 1), r.latency->n);
  for (const auto& n : r.notes) fmt::print("note: {}\n", n);
}

namespace {

// The GEMM limit's figures, or null when it was not measured.
nlohmann::json gemm_limit_json(const bench_report& r) {
  if (!r.gemm_limit) return nullptr;
  const bench_gemm_limit& g = *r.gemm_limit;
  return {{"step_seconds", g.step_seconds},
          {"samples_per_s", g.samples_per_s},
          {"gflops", g.gflops},
          {"pct_of_fma_peak", number(g.pct_of_fma_peak)}};
}

// The FMA peak: its architecture and one entry per thread count, or null.
nlohmann::json fma_json(const bench_report& r) {
  if (!r.fma) return nullptr;
  nlohmann::json peaks = nlohmann::json::array();
  for (const bench_fma_peak& f : r.fma->peaks)
    peaks.push_back(
        {{"n_threads", f.n_threads}, {"run_seconds", f.run_seconds}, {"gflops", f.gflops}});
  return {{"isa", r.fma->isa},
          {"lanes", r.fma->lanes},
          {"n_vectors", r.fma->n_vectors},
          {"threads", std::move(peaks)}};
}

}  // namespace

void write_json(const bench_report& r, const std::string& path) {
  const bench_problem& p = r.problem;
  const double w = static_cast<double>(p.n_weights());
  nlohmann::json j;
  j["tmlp_version"] = std::string(version_string);
  j["config"] = {{"name", p.name},
                 {"widths", p.widths()},
                 {"activation", std::string(to_string(p.spec.layers.front().act))},
                 {"loss", std::string(to_string(p.spec.loss))},
                 {"optimizer", p.optimizer_name},
                 {"lr", shortest(p.lr)},
                 {"momentum", shortest(p.momentum)},
                 {"batch_size", p.batch_size},
                 {"rows", p.rows},
                 {"precision", p.precision == gemm_precision::bf16 ? "bf16" : "fp32"},
                 {"shard_rows", p.shard_rows},
                 {"n_weights", p.n_weights()},
                 {"train_flop_per_sample", 6.0 * w},
                 {"infer_flop_per_sample", 2.0 * w}};
  j["machine"] = {{"n_cores", r.n_cores}, {"simd", r.simd}, {"blas", r.blas}, {"gemm", r.gemm}};
  j["protocol"] = {{"mode", r.mode},
                   {"warmup_epochs", r.warmup},
                   {"repeats", r.repeats},
                   {"seed", r.seed},
                   {"infer_batch", r.infer_batch}};
  j["gemm_limit"] = gemm_limit_json(r);
  j["fma_peak"] = fma_json(r);
  j["core_latency"] = r.cores ? nlohmann::json{{"cpus", r.cores->cpus},
                                               {"start_ns_one_way", list_json(r.cores->start_ns)},
                                               {"end_ns_one_way", list_json(r.cores->end_ns)}}
                              : nlohmann::json(nullptr);
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& t : r.threads) {
    const bool tr = trained(t);
    nlohmann::json row = {{"n_threads", t.n_threads},
                          {"n_workers", tr ? nlohmann::json(t.n_workers) : nullptr},
                          {"n_shards", tr ? nlohmann::json(t.n_shards) : nullptr},
                          {"status", tr ? nlohmann::json(t.status) : nullptr},
                          {"train", nullptr},
                          {"phases_us", nullptr},
                          {"inference", nullptr}};
    if (tr) {
      row["train"] = {{"epoch_samples_per_s", list_json(t.epoch_samples_per_s)},
                      {"samples_per_s", stats_json(t.train_samples_per_s)},
                      {"gflops", stats_json(t.train_gflops)},
                      {"gemm_limit_samples_per_s", number(t.gemm_limit_samples_per_s)},
                      {"pct_of_gemm_limit", number(t.pct_of_gemm_limit)},
                      {"fma_peak_gflops", number(t.fma_peak_gflops)},
                      {"pct_of_fma_peak", number(t.pct_of_fma_peak)},
                      {"speedup", number(t.speedup)},
                      {"efficiency", number(t.efficiency)}};
    }
    if (t.phases.n_steps > 0) {
      const bench_phases& ph = t.phases;
      row["phases_us"] = {{"prepare", ph.prepare}, {"gather", ph.gather},
                          {"forward", ph.forward}, {"backward", ph.backward},
                          {"reduce", ph.reduce},   {"update", ph.update},
                          {"step", ph.step},       {"n_steps", ph.n_steps}};
    }
    if (inferred(t))
      row["inference"] = {{"round_samples_per_s", list_json(t.infer_round_samples_per_s)},
                          {"samples_per_s", stats_json(t.infer_samples_per_s)},
                          {"gflops", stats_json(t.infer_gflops)},
                          {"fma_peak_gflops", number(t.fma_peak_gflops)},
                          {"pct_of_fma_peak", number(t.infer_pct_of_fma_peak)}};
    rows.push_back(std::move(row));
  }
  j["threads"] = std::move(rows);
  j["latency"] = r.latency ? nlohmann::json{{"batch", 1},
                                            {"n", r.latency->n},
                                            {"p50_us", r.latency->p50_us},
                                            {"p99_us", r.latency->p99_us},
                                            {"mean_us", r.latency->mean_us},
                                            {"min_us", r.latency->min_us}}
                           : nlohmann::json(nullptr);
  j["notes"] = r.notes;
  std::ofstream f = open_out(path);
  f << j.dump(2) << '\n';
  check_written(f, path);
}

void write_csv(const bench_report& r, const std::string& path) {
  std::ofstream f = open_out(path);
  f << "config,n_threads,n_workers,n_shards,status,train_samples_per_s,train_samples_per_s_min,"
       "train_samples_per_s_max,train_gflops,gemm_limit_samples_per_s,pct_of_gemm_limit,speedup,"
       "efficiency,gather_us,forward_us,backward_us,reduce_us,update_us,step_us,"
       "infer_samples_per_s,infer_samples_per_s_min,infer_samples_per_s_max,infer_gflops,"
       "fma_peak_gflops,pct_of_fma_peak,infer_pct_of_fma_peak,prepare_us\n";
  const auto v = [](double x) { return std::isfinite(x) ? fmt::format("{:.6g}", x) : ""; };
  for (const auto& t : r.threads) {
    const bool tr = trained(t), ph = t.phases.n_steps > 0;
    f << fmt::format("{},{},{},{},{}", r.problem.name, t.n_threads,
                     tr ? std::to_string(t.n_workers) : "", tr ? std::to_string(t.n_shards) : "",
                     t.status);
    for (double x : {t.train_samples_per_s.median, t.train_samples_per_s.min,
                     t.train_samples_per_s.max, t.train_gflops.median, t.gemm_limit_samples_per_s,
                     t.pct_of_gemm_limit, t.speedup, t.efficiency})
      f << ',' << v(x);
    for (double x : {t.phases.gather, t.phases.forward, t.phases.backward, t.phases.reduce,
                     t.phases.update, t.phases.step})
      f << ',' << (ph ? v(x) : "");
    for (double x :
         {t.infer_samples_per_s.median, t.infer_samples_per_s.min, t.infer_samples_per_s.max,
          t.infer_gflops.median, t.fma_peak_gflops, t.pct_of_fma_peak, t.infer_pct_of_fma_peak})
      f << ',' << v(x);
    f << ',' << (ph ? v(t.phases.prepare) : "") << '\n';
  }
  check_written(f, path);
}

void print_configs(std::span<const bench_config> configs, bool json) {
  if (!json) {
    constexpr std::string_view row =
        "{:<4} {:>6}  {:<24} {:>7}  {:<10} {:<4} {:<9} {:>6} {:>8} {:>6} {:>8}\n";
    fmt::print(row, "name", "inputs", "hidden", "outputs", "activation", "loss", "optimizer", "lr",
               "momentum", "batch", "rows");
    for (const bench_config& c : configs)
      fmt::print(row, c.name, c.n_inputs, comma_list(c.hidden), c.n_outputs, to_string(c.act),
                 to_string(c.loss), c.optimizer_name, c.lr, c.momentum, c.batch_size, c.rows);
    return;
  }
  nlohmann::json all = nlohmann::json::array();
  for (const bench_config& c : configs)
    all.push_back({{"name", c.name},
                   {"inputs", c.n_inputs},
                   {"hidden", c.hidden},
                   {"outputs", c.n_outputs},
                   {"activation", std::string(to_string(c.act))},
                   {"loss", std::string(to_string(c.loss))},
                   {"optimizer", c.optimizer_name},
                   {"lr", shortest(c.lr)},
                   {"momentum", shortest(c.momentum)},
                   {"batch_size", c.batch_size},
                   {"rows", c.rows}});
  fmt::print("{}\n", all.dump(2));
}

}  // namespace tmlp::cli
