// A fitted preprocessor as JSON (stored in the model file) and back.
#include <cmath>

#include <nlohmann/json.hpp>

#include "data/preprocess_parts.hpp"
#include "tmlp/error.hpp"
#include "tmlp/preprocess.hpp"

namespace tmlp {

using namespace data;

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
