// tmlp/ensemble.hpp: the members' seeds, how they share the threads, and their training.
#include "tmlp/ensemble.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <tbb/info.h>
#include <nlohmann/json.hpp>

#include "tmlp/error.hpp"
#include "tmlp/train_setup.hpp"

namespace tmlp {

std::uint64_t member_seed(std::uint64_t seed, std::size_t member) noexcept {
  if (member == 0) return seed;
  // splitmix64 of the seed advanced by `member` steps of its increment: distinct members of
  // one run, and of runs with nearby seeds, get unrelated streams.
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(member);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

ensemble_plan plan_ensemble(std::size_t n_members, int n_threads) {
  const std::size_t n = static_cast<std::size_t>(
      std::max(1, n_threads > 0 ? n_threads : tbb::info::default_concurrency()));
  ensemble_plan p;
  p.at_once = std::max<std::size_t>(1, std::min(n_members, n));
  for (std::size_t i = 0; i < n_members; ++i) {
    const std::size_t slot = i % p.at_once;
    p.threads.push_back(static_cast<int>(n / p.at_once + (slot < n % p.at_once ? 1 : 0)));
  }
  return p;
}

loaded_model ensemble_fit::file(const train_options& o, const training_data& d) {
  if (members.empty() || members.size() != results.size())
    throw error(errc::invalid_argument, "ensemble_fit::file: no members, or not one result each");
  const auto epochs_run = [](const fit_result& r) {
    return r.epochs.empty() ? std::size_t{0} : r.epochs.back().epoch;
  };
  std::string metadata = model_metadata(o, d, results[0], epochs_run(results[0]));
  if (members.size() > 1) {
    nlohmann::json meta = nlohmann::json::parse(metadata);
    nlohmann::json list = nlohmann::json::array();
    for (std::size_t i = 0; i < members.size(); ++i)
      list.push_back({{"seed", members[i].spec().seed},
                      {"epochs_run", epochs_run(results[i])},
                      {"best_epoch", results[i].best_epoch},
                      {"status", std::string(to_string(results[i].status))}});
    meta["training"]["members"] = std::move(list);
    metadata = meta.dump();
  }
  loaded_model l{std::move(members[0]), std::move(metadata), {}};
  for (std::size_t i = 1; i < members.size(); ++i) l.more_members.push_back(std::move(members[i]));
  members.clear();
  return l;
}

ensemble_fit fit_ensemble(const train_options& o, const training_data& d, train_config cfg) {
  const std::size_t k = o.ensemble;
  if (k == 0 || k > max_ensemble)
    throw error(
        errc::invalid_argument,
        fmt::format("--ensemble: {}; expected a number of members in [1, {}]", k, max_ensemble));
  if (k > 1 && cfg.on_checkpoint)
    throw error(errc::unsupported,
                "--ensemble: an ensemble is not checkpointed (train it without --checkpoint)");
  const model_spec base = with_flag_names([&] { return training_model_spec(o, d); });
  ensemble_fit f;
  for (std::size_t i = 0; i < k; ++i) {
    model_spec spec = base;
    spec.seed = member_seed(o.seed, i);
    f.members.push_back(with_flag_names([&] { return model::create(spec); }));
  }
  f.results.resize(k);
  const auto fit_one = [&](std::size_t i, const train_config& c) {
    trainer t(c);
    f.results[i] =
        t.fit(f.members[i], *d.x_train, d.y_train, d.x_valid.get(), d.y_valid, d.w_train);
  };
  if (k == 1) {  // exactly the single model's run
    fit_one(0, cfg);
    return f;
  }

  // The caller's callbacks one at a time, with the member named; a stop stops every member.
  std::mutex calls;
  std::atomic<bool> stop{false};
  const auto config_of = [&](std::size_t i) {
    train_config c = cfg;
    c.seed = member_seed(cfg.seed, i);
    c.n_threads = plan_ensemble(k, cfg.n_threads).threads[i];
    c.on_batch = [&, i](const batch_report& b) {
      if (stop.load(std::memory_order_relaxed)) return false;
      if (!cfg.on_batch) return true;
      batch_report r = b;
      r.member = i;
      const std::lock_guard<std::mutex> lock(calls);
      if (cfg.on_batch(r)) return true;
      stop.store(true, std::memory_order_relaxed);
      return false;
    };
    c.on_epoch = [&, i](const epoch_report& e) {
      if (!cfg.on_epoch) return !stop.load(std::memory_order_relaxed);
      epoch_report r = e;
      r.member = i;
      const std::lock_guard<std::mutex> lock(calls);
      if (cfg.on_epoch(r) && !stop.load(std::memory_order_relaxed)) return true;
      stop.store(true, std::memory_order_relaxed);
      return false;
    };
    return c;
  };
  // Members taken in order by plan.at_once workers (this thread one of them), each member in
  // its trainer's own task arena.
  const ensemble_plan plan = plan_ensemble(k, cfg.n_threads);
  std::atomic<std::size_t> next{0};
  std::vector<std::exception_ptr> errors(k);
  const auto work = [&] {
    for (std::size_t i = next++; i < k; i = next++) {
      try {
        fit_one(i, config_of(i));
      } catch (...) {
        errors[i] = std::current_exception();
        stop.store(true, std::memory_order_relaxed);
      }
    }
  };
  {
    std::vector<std::jthread> workers;
    for (std::size_t w = 1; w < plan.at_once; ++w) workers.emplace_back(work);
    work();
  }
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  return f;
}

}  // namespace tmlp
