// Model files: one file holding the architecture, any metadata the caller attaches
// (preprocessing, labels, training config, as JSON) and the float32 parameters, with a checksum.
//
//     tmlp::save_model(m, "churn.tmlp", R"({"note": "anything JSON"})");
//     tmlp::loaded_model l = tmlp::load_model("churn.tmlp");
//     l.model.predict(x);  l.metadata;  // the JSON text given to save_model
//
// Layout (little-endian): magic "TMLPMODL", u32 format version, u32 reserved (0), u64 length of
// the JSON header, u64 parameter count, the JSON header ({"spec": ..., "metadata": ...}), the
// parameters as float32, then a u64 FNV-1a checksum of every byte before it. The same model and
// metadata always give the same bytes (no timestamps, no host names). Checkpoints (a model with
// the state of its training): tmlp/checkpoint.hpp.
//
// An ensemble (tmlp/ensemble.hpp) is one file: format version 2, the header's "members" the
// members' seeds (the first is the spec's), and the members' parameters one after the other,
// each member's model the spec with its seed. A single model is written as format version 1,
// with no "members", as builds before ensembles wrote it (and read it).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "tmlp/model.hpp"

namespace tmlp {

// The newest format version written (an ensemble); single models are written as version 1.
// Versions 1 and 2 are read.
inline constexpr unsigned model_format_version = 2;

// Writes to a temporary file beside `path`, flushes it to disk and renames it over `path`, so
// a crash or kill at any moment leaves either the old file or the new one, never a mix.
// metadata_json must be empty or a JSON value. Throws tmlp::error (errc::io) naming the path.
void save_model(const model& m, const std::string& path, const std::string& metadata_json = "");

struct loaded_model {
  tmlp::model model;     // the model; an ensemble's member 0
  std::string metadata;  // JSON text given to save_model ("null" if none)
  // An ensemble's members 1..K-1 (the same spec as `model` but for its seed); empty: one model.
  std::vector<tmlp::model> more_members;

  std::size_t n_members() const noexcept { return 1 + more_members.size(); }
};

// A whole model file's content: l.model with l.more_members (which must have l.model's spec but
// for their seeds, else tmlp::error), and l.metadata ("" or "null": none).
void save_model(const loaded_model& l, const std::string& path);
std::vector<unsigned char> model_to_bytes(const loaded_model& l);

// Reads and verifies a model file. A truncated, corrupted, wrong-version or hostile file is a
// tmlp::error (errc::corrupt_model or errc::io) naming the path and the problem; nothing is
// allocated beyond what the file's size justifies.
loaded_model load_model(const std::string& path);

// The bytes save_model writes, in memory (to pickle a model, send it, or store it elsewhere),
// and back: model_from_bytes checks them as load_model checks a file; `source` names them in
// messages.
std::vector<unsigned char> model_to_bytes(const model& m, const std::string& metadata_json = "");
loaded_model model_from_bytes(std::span<const unsigned char> bytes,
                              const std::string& source = "<memory>");

// The model spec as JSON text, and back (throws tmlp::error naming the bad field or an unknown
// key). The JSON has the model_spec and dense_spec field names, activations, inits and losses by
// name: {"n_inputs": 4, "layers": [{"units": 16, "activation": "relu"}, {"units": 3,
// "activation": "identity"}], "loss": "ce", "seed": 1}. Only n_inputs, layers (each with its
// units) and loss are required; the other fields default as in the structs.
std::string spec_to_json(const model_spec& spec);
model_spec spec_from_json(const std::string& json);

}  // namespace tmlp
