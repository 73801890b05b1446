// The one table of (value, name) pairs of an enum (or of a variant's alternatives), from which
// to_string, parsing, the choice lists of --help and the error messages all come.
//
//     constexpr enum_table<loss_kind, 2> losses{{{{loss_kind::mse, "mse"}, {loss_kind::mae,
//     "mae"}}}}; losses.name(loss_kind::mae)   // "mae" losses.parse("mse")           //
//     loss_kind::mse losses.names()                // {"mse", "mae"}, in table order
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace tmlp::detail {

template <class E>
struct enum_entry {
  E value;
  std::string_view name;
};

template <class E, std::size_t N>
struct enum_table {
  std::array<enum_entry<E>, N> entries;
  std::array<std::string_view, N> names_in_order = make_names(entries);

  static constexpr std::array<std::string_view, N> make_names(
      const std::array<enum_entry<E>, N>& e) noexcept {
    std::array<std::string_view, N> out{};
    for (std::size_t i = 0; i < N; ++i) out[i] = e[i].name;
    return out;
  }

  // The name of v, or "?" for a value the table lacks.
  constexpr std::string_view name(E v) const noexcept {
    for (const auto& e : entries)
      if (e.value == v) return e.name;
    return "?";
  }

  constexpr std::optional<E> parse(std::string_view s) const noexcept {
    for (const auto& e : entries)
      if (e.name == s) return e.value;
    return std::nullopt;
  }

  std::span<const std::string_view> names() const noexcept { return names_in_order; }

  // Every value 0..N-1 appears exactly once, each with a name: a table missing an entry fails
  // its static_assert.
  constexpr bool complete() const noexcept {
    for (std::size_t v = 0; v < N; ++v) {
      std::size_t seen = 0;
      for (const auto& e : entries)
        if (static_cast<std::size_t>(e.value) == v && !e.name.empty()) ++seen;
      if (seen != 1) return false;
    }
    return true;
  }
};

}  // namespace tmlp::detail
