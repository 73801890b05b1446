#include "train/optimizer.hpp"

#include <cmath>
#include <iterator>
#include <type_traits>

#include <fmt/format.h>

#include "tmlp/error.hpp"

namespace tmlp::train {
namespace {
// Position of an optimizer config type in tmlp::optimizer.
template <class T>
constexpr int index_of = static_cast<int>(optimizer(T{}).index());

}  // namespace

// Both from the optimizers' one name table (train/config.cpp).
std::optional<int> optimizer_kind(std::string_view name) noexcept {
  if (const std::optional<optimizer> o = optimizer_from_string(name))
    return static_cast<int>(o->index());
  return std::nullopt;
}

std::string_view optimizer_name(int kind) noexcept {
  for (std::string_view name : optimizer_names())
    if (optimizer_kind(name) == kind) return name;
  return "unknown";
}

optimizer_state::optimizer_state(const optimizer& opt, const train_config& config,
                                 std::size_t n_params)
    : kind_(static_cast<int>(opt.index())) {
  args_.l1 = config.l1;
  args_.l2 = config.l2;
  args_.decay = config.weight_decay;
  std::visit(
      [&](const auto& o) {
        using T = std::decay_t<decltype(o)>;
        base_lr_ = o.lr;
        if constexpr (std::is_same_v<T, momentum> || std::is_same_v<T, nesterov>) {
          args_.momentum = o.momentum;
          s1_.assign(n_params, 0.0f);
        } else if constexpr (std::is_same_v<T, adam> || std::is_same_v<T, adamw>) {
          args_.beta1 = o.beta1;
          args_.beta2 = o.beta2;
          args_.eps = o.eps;
          if constexpr (std::is_same_v<T, adamw>) args_.decay += o.weight_decay;
          s1_.assign(n_params, 0.0f);
          s2_.assign(n_params, 0.0f);
        } else if constexpr (std::is_same_v<T, rmsprop>) {
          args_.beta2 = o.rho;
          args_.eps = o.eps;
          s1_.assign(n_params, 0.0f);
        } else if constexpr (std::is_same_v<T, adagrad>) {
          args_.eps = o.eps;
          s1_.assign(n_params, 0.0f);
        }
      },
      opt);
}

void optimizer_state::restore(int kind, std::size_t n_steps, const std::vector<float>& m1,
                              const std::vector<float>& m2) {
  if (kind != kind_)
    throw error(errc::invalid_argument,
                fmt::format("resume: the saved state is of optimizer {}, the config uses {}",
                            optimizer_name(kind), optimizer_name(kind_)));
  if (m1.size() != s1_.size() || m2.size() != s2_.size())
    throw error(errc::invalid_argument,
                fmt::format("resume: the saved optimizer state holds {} + {} values, the model "
                            "needs {} + {}",
                            m1.size(), m2.size(), s1_.size(), s2_.size()));
  t_ = n_steps;
  s1_.assign(m1.begin(), m1.end());
  s2_.assign(m2.begin(), m2.end());
}

void optimizer_state::begin_step(float lr) noexcept {
  ++t_;
  args_.lr = lr;
  const auto t = static_cast<double>(t_);
  args_.bias1 = static_cast<float>(1.0 - std::pow(static_cast<double>(args_.beta1), t));
  args_.bias2 = static_cast<float>(1.0 - std::pow(static_cast<double>(args_.beta2), t));
}

void optimizer_state::update(const kernels::kernel_table& k, std::size_t lo, std::size_t len,
                             const float* g, float* w) noexcept {
  g += lo;
  w += lo;
  float* s1 = s1_.empty() ? nullptr : s1_.data() + lo;
  float* s2 = s2_.empty() ? nullptr : s2_.data() + lo;
  switch (kind_) {
    case index_of<sgd>:
      k.sgd(len, args_, g, w);
      break;
    case index_of<momentum>:
      k.momentum(len, args_, g, w, s1);
      break;
    case index_of<nesterov>:
      k.nesterov(len, args_, g, w, s1);
      break;
    case index_of<adam>:
    case index_of<adamw>:
      k.adam(len, args_, g, w, s1, s2);
      break;
    case index_of<rmsprop>:
      k.rmsprop(len, args_, g, w, s1);
      break;
    case index_of<adagrad>:
      k.adagrad(len, args_, g, w, s1);
      break;
  }
}

}  // namespace tmlp::train
