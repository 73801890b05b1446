// `tmlp train`'s option values into model specs and train configs, each checked with a message
// that names its flag.
#include "tmlp/train_setup.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <iterator>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "tmlp/ensemble.hpp"
#include "tmlp/error.hpp"

namespace tmlp {
namespace {

[[noreturn]] void bad_flag(const std::string& what) { throw error(errc::invalid_argument, what); }

// The whole of s as a finite number, or nothing.
std::optional<double> number(std::string_view s) {
  double v = 0.0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v))
    return std::nullopt;
  return v;
}

// The whole of s as a non-negative integer, or nothing.
std::optional<std::size_t> whole(std::string_view s) {
  std::size_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  for (std::size_t pos = 0;;) {
    const std::size_t at = text.find(sep, pos);
    parts.push_back(text.substr(pos, at == std::string_view::npos ? text.npos : at - pos));
    if (at == std::string_view::npos) return parts;
    pos = at + 1;
  }
}

// The library field that starts at message[at] ("model_spec.layers[0].dropout"), or "".
std::string_view field_at(std::string_view message, std::size_t at) {
  const auto in_field = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '[' ||
           c == ']';
  };
  if (at > 0 && in_field(message[at - 1])) return {};
  std::size_t end = at;
  while (end < message.size() && in_field(message[end])) ++end;
  while (end > at && message[end - 1] == '.') --end;  // a full stop after the field
  return message.substr(at, end - at);
}

// The flag that sets `field` ("model_spec.layers[0].dropout": dropout), or nullptr.
const train_flag* flag_of(std::string_view field) {
  std::string pattern;  // indices as "[]"
  for (std::size_t i = 0; i < field.size(); ++i) {
    pattern += field[i];
    if (field[i] == '[')
      while (i + 1 < field.size() && field[i + 1] != ']') ++i;
  }
  for (const train_flag& f : train_flags())
    if (std::find(f.fields.begin(), f.fields.end(), pattern) != f.fields.end()) return &f;
  return nullptr;
}

}  // namespace

std::string flag_terms(std::string_view message) {
  std::string out;
  for (std::size_t at = 0; at < message.size();) {
    std::string_view field;
    for (std::string_view root : {"train_config.", "model_spec.", "preprocess_options."})
      if (message.substr(at, root.size()) == root) field = field_at(message, at);
    const train_flag* flag = field.empty() ? nullptr : flag_of(field);
    if (flag != nullptr) {
      out += "--" + std::string(flag->name);
      at += field.size();
    } else {
      out += message[at++];
    }
  }
  return out;
}

activation parse_activation(const std::string& name) {
  if (const auto a = activation_from_string(name)) return *a;
  bad_flag(fmt::format("--activation: unknown '{}'; expected {}", name,
                       join_names(activation_names(), ", ", " or ")));
}

optimizer parse_optimizer(const std::string& name, float lr) {
  const auto with_lr = [&](auto o) -> optimizer {
    if (lr != 0.0f) o.lr = lr;  // the library names a rate that is not > 0
    return o;
  };
  if (const auto o = optimizer_from_string(name)) return std::visit(with_lr, *o);
  bad_flag(fmt::format("--optimizer: unknown '{}'; expected {}", name,
                       join_names(optimizer_names(), ", ", " or ")));
}

std::vector<std::size_t> parse_widths(const std::string& text) {
  std::vector<std::size_t> out;
  for (std::string_view part : split(text, ',')) {
    const auto w = whole(part);
    if (!w)
      bad_flag(
          fmt::format("--layers: '{}' is not a list of positive layer widths like 256,128", text));
    out.push_back(*w);
  }
  return out;
}

std::vector<dense_spec> hidden_layers(const train_options& o) {
  const activation act = parse_activation(o.activation);
  std::vector<dense_spec> out;
  for (std::size_t w : parse_widths(o.layers))
    out.push_back({.units = w,
                   .act = act,
                   .dropout = o.dropout,
                   .layer_norm = o.layer_norm,
                   .residual = o.residual,
                   .batch_norm = o.batch_norm});
  // The layers checked now, before any data is read, by the library (on one input and output).
  model_spec probe{.n_inputs = 1, .layers = out};
  probe.layers.push_back({.units = 1, .act = activation::identity});
  with_flag_names([&] { validate(probe); });
  return out;
}

gemm_precision parse_precision(const std::string& name) {
  if (name == "fp32") return gemm_precision::fp32;
  if (name == "bf16") return gemm_precision::bf16;
  bad_flag(fmt::format("--precision: unknown '{}'; expected fp32 or bf16", name));
}

std::optional<periodic_embedding_spec> numeric_embedding(const train_options& o) {
  if (o.numeric_embedding == "none") return std::nullopt;
  if (o.numeric_embedding != "periodic")
    bad_flag(fmt::format("--numeric-embedding: unknown '{}'; expected none or periodic",
                         o.numeric_embedding));
  const periodic_embedding_spec e{.column = 0,
                                  .n_frequencies = o.periodic_frequencies,
                                  .dim = o.periodic_dim,
                                  .sigma = o.periodic_sigma};
  // Checked now, before any data is read, by the library (on one input and output).
  const model_spec probe{.n_inputs = 1,
                         .layers = {{.units = 1, .act = activation::identity}},
                         .periodic_embeddings = {e}};
  with_flag_names([&] { validate(probe); });
  return e;
}

namespace {

// What each schedule takes after its name, in the order of tmlp::schedule_names().
constexpr std::string_view schedule_args[] = {"", ":EPOCHS[:GAMMA]", ":GAMMA",
                                              ":WARMUP[:MIN_FRACTION]", ":FACTOR[:PATIENCE]"};
static_assert(std::size(schedule_args) == std::variant_size_v<schedule>);

// "step[:EPOCHS[:GAMMA]]": the name of schedule i with its optional arguments.
std::string schedule_syntax(std::size_t i) {
  const std::string name(schedule_names()[i]);
  return schedule_args[i].empty() ? name : name + "[" + std::string(schedule_args[i]) + "]";
}

}  // namespace

std::string schedule_choices(std::string_view sep, std::string_view last_sep) {
  std::vector<std::string> all;
  for (std::size_t i = 0; i < std::size(schedule_args); ++i) all.push_back(schedule_syntax(i));
  const std::vector<std::string_view> views(all.begin(), all.end());
  return join_names(views, sep, last_sep);
}

schedule parse_schedule(const std::string& text) {
  const std::vector<std::string_view> parts = split(text, ':');
  const std::size_t n_args = parts.size() - 1;
  const auto fail = [&](std::string_view why) {
    return error(errc::invalid_argument, fmt::format("--schedule: '{}': {}", text, why));
  };
  const std::optional<schedule> chosen = schedule_from_string(parts[0]);
  if (!chosen)
    bad_flag(fmt::format("--schedule: '{}' is not a schedule; expected {}", text,
                         schedule_choices(", ", " or ")));
  const std::size_t kind = chosen->index();
  if (n_args > static_cast<std::size_t>(
                   std::count(schedule_args[kind].begin(), schedule_args[kind].end(), ':')))
    throw fail(fmt::format("too many values; expected {}", schedule_syntax(kind)));
  // Argument i as a number in the range `what` accepts, or the default when absent.
  const auto real = [&](std::size_t i, float fallback, std::string_view field, auto ok,
                        std::string_view what) {
    if (i > n_args) return fallback;
    const auto v = number(parts[i]);
    if (!v || !ok(*v)) throw fail(fmt::format("{} '{}' is not {}", field, parts[i], what));
    return static_cast<float>(*v);
  };
  const auto integer = [&](std::size_t i, std::size_t fallback, std::string_view field,
                           std::size_t min) {
    if (i > n_args) return fallback;
    const auto v = whole(parts[i]);
    if (!v || *v < min)
      throw fail(fmt::format("{} '{}' is not an integer >= {}", field, parts[i], min));
    return *v;
  };
  const auto positive = [](double v) { return v > 0.0; };
  // The named schedule's defaults with the given arguments in their place.
  return std::visit(
      [&](auto d) -> schedule {
        using T = decltype(d);
        if constexpr (std::is_same_v<T, step_decay>) {
          d.step_epochs = integer(1, d.step_epochs, "EPOCHS", 1);
          d.gamma = real(2, d.gamma, "GAMMA", positive, "a number > 0");
        } else if constexpr (std::is_same_v<T, exponential_decay>) {
          d.gamma = real(1, d.gamma, "GAMMA", positive, "a number > 0");
        } else if constexpr (std::is_same_v<T, cosine>) {
          d.warmup_epochs = integer(1, d.warmup_epochs, "WARMUP", 0);
          d.min_fraction = real(
              2, d.min_fraction, "MIN_FRACTION", [](double v) { return v >= 0.0 && v <= 1.0; },
              "in [0, 1]");
        } else if constexpr (std::is_same_v<T, reduce_on_plateau>) {
          d.factor = real(
              1, d.factor, "FACTOR", [](double v) { return v > 0.0 && v < 1.0; }, "in (0, 1)");
          d.patience = integer(2, d.patience, "PATIENCE", 1);
        }
        return d;
      },
      *chosen);
}

train_config make_train_config(const train_options& o) {
  if (o.epochs == 0) bad_flag("--epochs: 0; expected at least 1");
  if (o.ensemble == 0 || o.ensemble > max_ensemble)
    bad_flag(fmt::format("--ensemble: {}; expected a number of members in [1, {}]", o.ensemble,
                         max_ensemble));

  train_config c{.opt = parse_optimizer(o.optimizer, o.lr),
                 .sched = parse_schedule(o.schedule),
                 .batch_size = o.batch_size.value_or(auto_batch),
                 .epochs = o.epochs,
                 .n_threads = o.threads,
                 .seed = o.seed,
                 .l1 = o.l1,
                 .l2 = o.l2,
                 .clip_norm = o.clip_norm,
                 .clip_value = o.clip_value,
                 .early_stop = {.patience = o.early_stop},
                 .shard_rows = o.shard_rows,
                 .max_shards = o.max_shards,
                 .precision = parse_precision(o.precision)};
  // AdamW's decay is its own (default 0.01); the others use the decoupled decay of the config.
  if (auto* w = std::get_if<adamw>(&c.opt); w != nullptr && o.weight_decay)
    w->weight_decay = *o.weight_decay;
  else if (w == nullptr)
    c.weight_decay = o.weight_decay.value_or(0.0f);
  // Every range checked by the library; the split is the program's own (train_data.hpp), but
  // its fraction is checked as the trainer's would be.
  train_config checked = c;
  checked.valid_fraction = o.valid_fraction;
  with_flag_names([&] { validate(checked); });
  return c;
}

std::optional<loss_kind> parse_loss(const std::string& name) {
  if (name == "auto") return std::nullopt;
  if (const auto l = loss_from_string(name)) return *l;
  bad_flag(fmt::format("--loss: unknown '{}'; expected auto, {}", name,
                       join_names(loss_names(), ", ", " or ")));
}

loss_choice choose_loss(std::optional<loss_kind> loss, task_kind inferred, bool numeric_target,
                        const std::string& target) {
  if (!loss) {
    return {inferred == task_kind::regression ? loss_kind::mse
            : inferred == task_kind::binary   ? loss_kind::bce
                                              : loss_kind::ce,
            inferred};
  }
  const auto mismatch = [&](std::string_view use) {
    return error(
        errc::invalid_argument,
        fmt::format("--loss {}: the target '{}' is {}; use {} (or auto)", to_string(*loss), target,
                    inferred == task_kind::regression ? "a regression target (numbers)"
                    : inferred == task_kind::binary   ? "binary (2 classes)"
                                                      : "multiclass",
                    use));
  };
  const std::string_view fits = inferred == task_kind::regression ? "mse, mae or huber"
                                : inferred == task_kind::binary   ? "bce"
                                                                  : "ce";
  switch (*loss) {
    case loss_kind::mse:
    case loss_kind::mae:
    case loss_kind::huber:
      if (!numeric_target) throw mismatch(fits);
      return {*loss, task_kind::regression};
    case loss_kind::bce:
      if (inferred != task_kind::binary) throw mismatch(fits);
      return {*loss, inferred};
    case loss_kind::ce:
      if (inferred != task_kind::multiclass) throw mismatch(fits);
      return {*loss, inferred};
  }
  throw mismatch(fits);
}

model_spec make_model_spec(const std::vector<dense_spec>& hidden, const preprocessor& prep,
                           loss_kind loss, std::uint64_t seed, std::size_t embedding_dim) {
  model_spec spec{.n_inputs = prep.n_features(), .layers = hidden, .loss = loss, .seed = seed};
  for (const auto& e : prep.embedded_features())
    spec.embeddings.push_back(
        {.column = e.feature, .cardinality = e.cardinality, .dim = embedding_dim});
  const std::size_t k = prep.task() == task_kind::multiclass ? prep.n_classes() : 1;
  spec.layers.push_back({.units = k, .act = activation::identity});
  return spec;
}

train_config trainer_config(train_options o, std::span<const std::string> given) {
  const auto flag_name = [](std::string n) {
    std::replace(n.begin(), n.end(), '_', '-');
    return n;
  };
  for (const std::string& name : given) {
    const train_flag* f = find_train_flag(flag_name(name));
    if (f == nullptr || !f->trainer)
      bad_flag(
          fmt::format("'{}' is not a training option (it belongs to the model, the data or "
                      "the program)",
                      name));
  }
  const auto is_given = [&](std::string_view flag) {
    return std::any_of(given.begin(), given.end(),
                       [&](const std::string& n) { return flag_name(n) == flag; });
  };
  const train_config library;
  if (!is_given("valid-fraction")) o.valid_fraction = library.valid_fraction;
  if (!is_given("early-stop")) o.early_stop = library.early_stop.patience;
  if (!is_given("epochs")) o.epochs = library.epochs;
  return make_train_config(o);
}

}  // namespace tmlp
