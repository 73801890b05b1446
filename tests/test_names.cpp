// The name tables of the public enums and variants: every value has one name, every name parses
// back to its value, the lists hold each name once, and join_names formats them.
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "kernels.hpp"
#include "tmlp/model.hpp"
#include "tmlp/trainer.hpp"

static_assert(std::is_same_v<tmlp::kernels::act, tmlp::activation>);
static_assert(tmlp::kernels::n_acts == tmlp::n_activations);

namespace {

template <class E, class Parse>
void check_round_trip(int n, std::span<const std::string_view> names, Parse parse) {
  REQUIRE(names.size() == std::size_t(n));
  std::set<std::string_view> seen;
  for (int i = 0; i < n; ++i) {
    const auto name = tmlp::to_string(static_cast<E>(i));
    INFO(name);
    CHECK(name != "?");
    CHECK(seen.insert(name).second);
    CHECK(parse(name) == static_cast<E>(i));
  }
  for (auto name : names) CHECK(seen.count(name) == 1);
  CHECK(!parse("no such name").has_value());
  CHECK(!parse("").has_value());
}

}  // namespace

TEST_CASE("activation, loss and init names round-trip", "[names]") {
  check_round_trip<tmlp::activation>(tmlp::n_activations, tmlp::activation_names(),
                                     &tmlp::activation_from_string);
  check_round_trip<tmlp::loss_kind>(5, tmlp::loss_names(), &tmlp::loss_from_string);
  check_round_trip<tmlp::init_kind>(7, tmlp::init_names(), &tmlp::init_from_string);
  CHECK(tmlp::to_string(tmlp::activation::gelu) == "gelu");  // the exact (erf) form
  CHECK(tmlp::to_string(tmlp::activation::gelu_tanh) == "gelu_tanh");
  CHECK(tmlp::to_string(tmlp::init_kind::automatic) == "auto");
  // The order --help lists them in.
  CHECK(tmlp::join_names(tmlp::activation_names(), "|") ==
        "relu|leaky_relu|prelu|elu|selu|sigmoid|tanh|gelu|gelu_tanh|softplus|identity");
  CHECK(tmlp::join_names(tmlp::loss_names(), ", ", " or ") == "mse, mae, huber, bce or ce");
}

TEST_CASE("optimizer and schedule names round-trip with default settings", "[names]") {
  const auto opts = tmlp::optimizer_names();
  REQUIRE(opts.size() == std::variant_size_v<tmlp::optimizer>);
  for (std::size_t i = 0; i < opts.size(); ++i) {
    const auto o = tmlp::optimizer_from_string(opts[i]);
    REQUIRE(o.has_value());
    CHECK(o->index() == i);
    CHECK(tmlp::to_string(*o) == opts[i]);
  }
  CHECK(tmlp::to_string(tmlp::optimizer(tmlp::adamw{})) == "adamw");
  CHECK(std::get<tmlp::adam>(*tmlp::optimizer_from_string("adam")).lr == tmlp::adam{}.lr);
  CHECK(!tmlp::optimizer_from_string("adamx").has_value());

  const auto scheds = tmlp::schedule_names();
  REQUIRE(scheds.size() == std::variant_size_v<tmlp::schedule>);
  for (std::size_t i = 0; i < scheds.size(); ++i) {
    const auto s = tmlp::schedule_from_string(scheds[i]);
    REQUIRE(s.has_value());
    CHECK(s->index() == i);
    CHECK(tmlp::to_string(*s) == scheds[i]);
  }
  CHECK(tmlp::to_string(tmlp::schedule(tmlp::reduce_on_plateau{})) == "plateau");
  CHECK(std::get<tmlp::step_decay>(*tmlp::schedule_from_string("step")).step_epochs ==
        tmlp::step_decay{}.step_epochs);
  CHECK(!tmlp::schedule_from_string("step:2").has_value());  // the name only
}

TEST_CASE("fit statuses have distinct names", "[names]") {
  std::set<std::string_view> seen;
  for (auto s : {tmlp::fit_status::completed, tmlp::fit_status::early_stopped,
                 tmlp::fit_status::stopped_by_callback, tmlp::fit_status::cancelled,
                 tmlp::fit_status::diverged})
    CHECK(seen.insert(tmlp::to_string(s)).second);
  CHECK(tmlp::to_string(tmlp::fit_status::early_stopped) == "early_stopped");
}

TEST_CASE("join_names", "[names]") {
  const std::string_view three[] = {"a", "b", "c"};
  CHECK(tmlp::join_names(three, "|") == "a|b|c");
  CHECK(tmlp::join_names(three, ", ", " or ") == "a, b or c");
  CHECK(tmlp::join_names(std::span(three, 1), ", ", " or ") == "a");
  CHECK(tmlp::join_names({}, "|").empty());
}
