// The C API's handles and the guard every function of tmlp/tmlp.h runs its body in: a C++
// exception becomes a tmlp_status and the thread's last-error message, never crossing into C.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tmlp/data.hpp"
#include "tmlp/data_source.hpp"
#include "tmlp/dataset.hpp"
#include "tmlp/model.hpp"
#include "tmlp/predictor.hpp"
#include "tmlp/tmlp.h"
#include "tmlp/trainer.hpp"

struct tmlp_model {
  tmlp::model net;                        // an ensemble's member 0
  std::string metadata;                   // the model file's metadata JSON; empty: none
  std::optional<tmlp::predictor> pred;    // a copy of the members with their preprocessing, if any
  std::vector<tmlp::model> more_members;  // an ensemble's members 1..K-1 (tmlp/ensemble.hpp)
};

struct tmlp_dataset {
  explicit tmlp_dataset(tmlp::data_source s) : source(std::move(s)), view(source.view()) {}
  tmlp::data_source source;      // a CSV file, read, or a .tmlpd file, mapped
  const tmlp::table_view& view;  // source.view(), which stays where it is
};

struct tmlp_trainer {
  tmlp::train_config config;
  tmlp_epoch_callback callback = nullptr;
  void* user = nullptr;
};

namespace tmlp::capi {

// A misuse of the C boundary (a NULL pointer, a buffer too small): TMLP_BAD_ARGUMENT.
struct bad_argument : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Throws bad_argument "<function>: <name> is NULL" if p is null.
inline void require(const void* p, const char* function, const char* name) {
  if (p == nullptr) throw bad_argument(std::string(function) + ": " + name + " is NULL");
}

// The status of the exception being handled, with its message stored as the thread's last
// error. Only inside a catch block.
tmlp_status current_exception_status() noexcept;

// Empties the thread's last error.
void clear_error() noexcept;

// Runs body; any exception out of it becomes its status.
template <class F>
tmlp_status guarded(F&& body) noexcept {
  clear_error();
  try {
    body();
    return TMLP_OK;
  } catch (...) {
    return current_exception_status();
  }
}

// A model handle for m with the metadata of its file ("" or "null": none); the predictor is
// made when the metadata holds preprocessing. source names the model in messages.
std::unique_ptr<tmlp_model> make_model(model m, std::string metadata, const std::string& source);
// The same for a model file's content (an ensemble's members with it).
std::unique_ptr<tmlp_model> make_model(loaded_model l, const std::string& source);

// The model file's content of h (its members and metadata), copied.
loaded_model file_of(const tmlp_model& h);

// Fills report (if not null) from r; epochs_run counts from epoch 1.
void fill_report(const fit_result& r, std::size_t epochs_run, tmlp_fit_report* report);

// The callback as the trainer's on_epoch (nothing for a null callback).
void set_epoch_callback(train_config& cfg, tmlp_epoch_callback callback, void* user);

}  // namespace tmlp::capi
