// Validation of a train_config: every field checked once, each error naming the field
// ("train_config.l2: ..."). The names of the optimizers, schedules and fit statuses: one table
// each.
#include <cmath>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "core/enum_table.hpp"
#include "tmlp/error.hpp"
#include "tmlp/trainer.hpp"

namespace tmlp {
namespace {

// Every message starts with the field it is about, as "train_config.<field>: ".
[[noreturn]] void bad(std::string_view field, const std::string& what) {
  throw error(errc::invalid_argument, fmt::format("train_config.{}: {}", field, what));
}

void positive(std::string_view name, float v) {
  if (!(std::isfinite(v) && v > 0.0f)) bad(name, fmt::format("{} is not a finite value > 0", v));
}
void non_negative(std::string_view name, float v) {
  if (!(std::isfinite(v) && v >= 0.0f)) bad(name, fmt::format("{} is not a finite value >= 0", v));
}
void unit_interval(std::string_view name, float v) {  // [0, 1)
  if (!(v >= 0.0f && v < 1.0f)) bad(name, fmt::format("{} is outside [0, 1)", v));
}

}  // namespace

void validate(const train_config& c) {
  std::visit(
      [](const auto& o) {
        using T = std::decay_t<decltype(o)>;
        positive("opt.lr", o.lr);
        if constexpr (std::is_same_v<T, momentum> || std::is_same_v<T, nesterov>)
          unit_interval("opt.momentum", o.momentum);
        if constexpr (std::is_same_v<T, adam> || std::is_same_v<T, adamw>) {
          unit_interval("opt.beta1", o.beta1);
          unit_interval("opt.beta2", o.beta2);
          positive("opt.eps", o.eps);
        }
        if constexpr (std::is_same_v<T, adamw>) non_negative("opt.weight_decay", o.weight_decay);
        if constexpr (std::is_same_v<T, rmsprop>) {
          unit_interval("opt.rho", o.rho);
          positive("opt.eps", o.eps);
        }
        if constexpr (std::is_same_v<T, adagrad>) positive("opt.eps", o.eps);
      },
      c.opt);
  std::visit(
      [](const auto& s) {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, step_decay>) {
          if (s.step_epochs == 0) bad("sched.step_epochs", "0; expected >= 1");
          positive("sched.gamma", s.gamma);
        }
        if constexpr (std::is_same_v<T, exponential_decay>) positive("sched.gamma", s.gamma);
        if constexpr (std::is_same_v<T, cosine>) {
          if (!(s.min_fraction >= 0.0f && s.min_fraction <= 1.0f))
            bad("sched.min_fraction", fmt::format("{} is outside [0, 1]", s.min_fraction));
        }
        if constexpr (std::is_same_v<T, reduce_on_plateau>) {
          if (!(s.factor > 0.0f && s.factor < 1.0f))
            bad("sched.factor", fmt::format("{} is outside (0, 1)", s.factor));
          non_negative("sched.min_delta", s.min_delta);
          non_negative("sched.min_lr", s.min_lr);
        }
      },
      c.sched);
  non_negative("l1", c.l1);
  non_negative("l2", c.l2);
  non_negative("weight_decay", c.weight_decay);
  non_negative("clip_norm", c.clip_norm);
  non_negative("clip_value", c.clip_value);
  unit_interval("valid_fraction", c.valid_fraction);
  non_negative("early_stop.min_delta", c.early_stop.min_delta);
  if (c.n_threads < 0)
    bad("n_threads", fmt::format("{} is negative; expected 0 (every core) or more", c.n_threads));
  if (c.shard_rows == 0) bad("shard_rows", "0; expected >= 1");
  if (c.max_shards == 0) bad("max_shards", "0; expected >= 1");
}

namespace {

// Position of a config type among the alternatives of its variant V.
template <class V, class T>
constexpr std::size_t index_of = V(T{}).index();

constexpr detail::enum_table<std::size_t, std::variant_size_v<optimizer>> optimizers{{{
    {index_of<optimizer, sgd>, "sgd"},
    {index_of<optimizer, momentum>, "momentum"},
    {index_of<optimizer, nesterov>, "nesterov"},
    {index_of<optimizer, adam>, "adam"},
    {index_of<optimizer, adamw>, "adamw"},
    {index_of<optimizer, rmsprop>, "rmsprop"},
    {index_of<optimizer, adagrad>, "adagrad"},
}}};

constexpr detail::enum_table<std::size_t, std::variant_size_v<schedule>> schedules{{{
    {index_of<schedule, constant_lr>, "constant"},
    {index_of<schedule, step_decay>, "step"},
    {index_of<schedule, exponential_decay>, "exp"},
    {index_of<schedule, cosine>, "cosine"},
    {index_of<schedule, reduce_on_plateau>, "plateau"},
}}};

constexpr detail::enum_table<fit_status, 5> fit_statuses{{{
    {fit_status::completed, "completed"},
    {fit_status::early_stopped, "early_stopped"},
    {fit_status::stopped_by_callback, "stopped_by_callback"},
    {fit_status::cancelled, "cancelled"},
    {fit_status::diverged, "diverged"},
}}};
static_assert(optimizers.complete() && schedules.complete() && fit_statuses.complete());

// The alternative at `index` of V, default-constructed.
template <class V, std::size_t... I>
V default_alternative(std::size_t index, std::index_sequence<I...>) noexcept {
  V v;
  ((index == I ? (v = std::variant_alternative_t<I, V>{}, 0) : 0), ...);
  return v;
}

template <class V>
std::optional<V> variant_from(std::optional<std::size_t> index) noexcept {
  if (!index) return std::nullopt;
  return default_alternative<V>(*index, std::make_index_sequence<std::variant_size_v<V>>{});
}

}  // namespace

std::span<const std::string_view> optimizer_names() noexcept { return optimizers.names(); }
std::string_view to_string(const optimizer& o) noexcept { return optimizers.name(o.index()); }
std::optional<optimizer> optimizer_from_string(std::string_view name) noexcept {
  return variant_from<optimizer>(optimizers.parse(name));
}

std::span<const std::string_view> schedule_names() noexcept { return schedules.names(); }
std::string_view to_string(const schedule& s) noexcept { return schedules.name(s.index()); }
std::optional<schedule> schedule_from_string(std::string_view name) noexcept {
  return variant_from<schedule>(schedules.parse(name));
}

std::string_view to_string(fit_status s) noexcept { return fit_statuses.name(s); }

}  // namespace tmlp
