// A fitted preprocessor as JSON (stored in the model file) and back.
#include <cmath>

#include <nlohmann/json.hpp>

#include "data/preprocess_parts.hpp"
#include "tmlp/error.hpp"
#include "tmlp/preprocess.hpp"

namespace tmlp {

using namespace data;

namespace {

using feature_column = preprocessor::feature_column;

// A numeric column's map after its scaling: linear (no "map"), smooth_clip, or quantile with its
// knots (finite, increasing) and their normal scores (finite), from which the slopes follow.
void read_map(const nlohmann::json& c, feature_column& f) {
  const std::string map = c.value("map", std::string("linear"));
  auto bad = [&](const std::string& what) {
    throw error(errc::corrupt_model, "preprocessing: column '" + f.name + "': " + what);
  };
  if (map == "linear") return;
  if (map == "smooth_clip") {
    f.map = feature_column::map_kind::smooth_clip;
    return;
  }
  if (map == "piecewise_linear") {
    f.map = feature_column::map_kind::piecewise_linear;
    f.knots = c.at("knots").get<std::vector<double>>();
    if (f.knots.size() < 3) bad("a piecewise-linear encoding needs at least 3 bin edges");
    for (std::size_t j = 0; j < f.knots.size(); ++j) {
      if (!std::isfinite(f.knots[j])) bad("a piecewise-linear encoding's edges must be finite");
      if (j > 0 && !(f.knots[j] > f.knots[j - 1]))
        bad("a piecewise-linear encoding's edges must increase");
    }
    return;
  }
  if (map != "quantile") bad("unknown map '" + map + "'");
  f.map = feature_column::map_kind::quantile;
  f.knots = c.at("knots").get<std::vector<double>>();
  f.values = c.at("values").get<std::vector<double>>();
  if (f.knots.empty() || f.knots.size() != f.values.size())
    bad("a quantile map needs as many scores as knots, and at least one");
  for (std::size_t j = 0; j < f.knots.size(); ++j) {
    if (!std::isfinite(f.knots[j]) || !std::isfinite(f.values[j]))
      bad("a quantile map's knots and scores must be finite");
    if (j > 0 && !(f.knots[j] > f.knots[j - 1])) bad("a quantile map's knots must increase");
  }
  set_quantile_slopes(f);
}

}  // namespace

std::string preprocessor::to_json() const {
  nlohmann::json j;
  j["task"] = std::string(to_string(task_));
  j["target"] = target_;
  j["target_kind"] = std::string(to_string(target_kind_));
  j["target_offset"] = target_offset_;
  j["target_scale"] = target_scale_;
  j["class_labels"] = class_labels_;
  j["n_features"] = n_features_;
  nlohmann::json cols = nlohmann::json::array();
  for (const feature_column& f : columns_) {
    nlohmann::json c{{"name", f.name}, {"kind", std::string(to_string(f.kind))}};
    if (f.kind == column_kind::categorical) {
      c["levels"] = f.levels;
      c["buckets"] = f.n_buckets;
      if (f.embedded) c["embedded"] = true;  // absent (false) in files from before embedding
    } else {
      c["fill"] = f.fill;
      c["offset"] = f.offset;
      c["scale"] = f.scale;
      c["indicator"] = f.indicator;
      if (f.map == feature_column::map_kind::smooth_clip) c["map"] = "smooth_clip";
      if (f.map == feature_column::map_kind::quantile) {  // absent (linear) in older files
        c["map"] = "quantile";
        c["knots"] = f.knots;
        c["values"] = f.values;
      }
      if (f.map == feature_column::map_kind::piecewise_linear) {
        c["map"] = "piecewise_linear";
        c["knots"] = f.knots;
      }
    }
    cols.push_back(std::move(c));
  }
  j["columns"] = std::move(cols);
  return j.dump();
}

preprocessor preprocessor::from_json(const std::string& text) {
  auto kind_of = [](const std::string& s) {
    if (s == "numeric") return column_kind::numeric;
    if (s == "categorical") return column_kind::categorical;
    if (s == "boolean") return column_kind::boolean;
    throw error(errc::corrupt_model, "preprocessing: unknown column kind '" + s + "'");
  };
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    preprocessor p;
    const std::string task = j.at("task").get<std::string>();
    p.task_ = task == "regression" ? task_kind::regression
              : task == "binary"   ? task_kind::binary
              : task == "multiclass"
                  ? task_kind::multiclass
                  : throw error(errc::corrupt_model, "preprocessing: unknown task '" + task + "'");
    p.target_ = j.at("target").get<std::string>();
    p.target_kind_ = kind_of(j.at("target_kind").get<std::string>());
    p.target_offset_ = j.at("target_offset").get<double>();
    p.target_scale_ = j.at("target_scale").get<double>();
    p.class_labels_ = j.at("class_labels").get<std::vector<std::string>>();
    for (const auto& c : j.at("columns")) {
      feature_column f;
      f.name = c.at("name").get<std::string>();
      f.kind = kind_of(c.at("kind").get<std::string>());
      if (f.kind == column_kind::categorical) {
        f.levels = c.at("levels").get<std::vector<std::string>>();
        f.n_buckets = c.at("buckets").get<std::size_t>();
        f.embedded = c.value("embedded", false);
        if (f.n_buckets > (std::size_t{1} << 24))
          throw error(errc::corrupt_model, "preprocessing: too many buckets");
        if (f.embedded && f.n_buckets > 0)
          throw error(errc::corrupt_model, "preprocessing: column '" + f.name +
                                               "' is both embedded and hashed into buckets");
        if (f.embedded && f.levels.size() + 2 > max_embedding_cardinality)
          throw error(errc::corrupt_model, "preprocessing: embedded column '" + f.name +
                                               "' has more levels than float32 indexes exactly");
        index_levels(f);
      } else {
        f.fill = c.at("fill").get<double>();
        f.offset = c.at("offset").get<double>();
        f.scale = c.at("scale").get<double>();
        f.indicator = c.at("indicator").get<bool>();
        if (c.value("embedded", false))
          throw error(errc::corrupt_model,
                      "preprocessing: column '" + f.name + "' is " +
                          std::string(to_string(f.kind)) +
                          " but marked embedded; only categorical columns are");
        if (!(std::isfinite(f.scale) && f.scale != 0.0))
          throw error(errc::corrupt_model,
                      "preprocessing: column '" + f.name + "' has an unusable scale");
        read_map(c, f);
      }
      f.first_feature = p.n_features_;
      p.n_features_ += width(f);
      append_feature_names(f, p.feature_names_);
      p.columns_.push_back(std::move(f));
    }
    if (p.n_features_ != j.at("n_features").get<std::size_t>())
      throw error(errc::corrupt_model, "preprocessing: feature count does not match its columns");
    return p;
  } catch (const nlohmann::json::exception& e) {
    throw error(errc::corrupt_model, std::string("preprocessing: malformed metadata: ") + e.what());
  }
}

}  // namespace tmlp
