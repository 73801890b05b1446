// `tmlp train --log FILE`: one JSON object per line per epoch, with every epoch_report field.
//
//     tmlp::cli::train_log log("run.jsonl");   // created (truncated) now: a bad path fails early
//     cfg.on_epoch = [&](const tmlp::epoch_report& e) { log.write(e); return true; };
//
// A line: {"epoch":3,"train_loss":0.41,"valid_loss":0.43,"valid_metric":0.87,
// "metric_name":"accuracy","lr":0.001,"seconds":0.2,"samples_per_second":51000.0,
// "vanishing":false,"exploding":false,"layers":[{"grad_norm":..,"weight_norm":..,
// "dead_fraction":..,"vanishing":false,"exploding":false},...]}. Absent or non-finite values
// (no validation, dead_fraction of a layer that is not ReLU) are null. Each line is flushed as
// it is written, so the file can be followed while training runs. An ensemble's lines start
// with "member" (0-based), in the order the members' epochs end.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "tmlp/trainer.hpp"

namespace tmlp::cli {

class train_log {
 public:
  // Throws tmlp::error (errc::io) naming --log and path if it cannot be created.
  // append: keep the lines already there (a resumed run continues its log).
  // ensemble: each line names its member.
  explicit train_log(const std::string& path, bool append = false, bool ensemble = false);

  // Appends e's line; throws tmlp::error (errc::io) if it cannot be written.
  void write(const epoch_report& e);

 private:
  struct closer {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
  };
  std::string path_;
  bool ensemble_;
  std::unique_ptr<std::FILE, closer> file_;
};

// e as the JSON object of one log line (no newline); with_member: "member" first.
std::string to_json_line(const epoch_report& e, bool with_member = false);

}  // namespace tmlp::cli
