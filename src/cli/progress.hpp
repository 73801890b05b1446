// What `tmlp train` shows while it trains: fed by train_config::on_batch and on_epoch.
//
//     tmlp::cli::progress shown(tmlp::cli::progress::detect(quiet), epochs, n_train, batch);
//     cfg.on_batch = [&](const tmlp::batch_report& b) { shown.batch(b); return true; };
//     cfg.on_epoch = [&](const tmlp::epoch_report& e) { shown.epoch(e); return true; };
//
// bar (standard output is a terminal): a line redrawn in place with '\r', at most 10 times a
// second, while an epoch runs (batches done, samples/s, running loss = mean of the epoch's batch
// losses so far, ETA from the time per batch), replaced at the epoch's end by its line. lines:
// the epoch lines only, never a '\r'. quiet: nothing. An epoch line gives the train and
// validation loss, the validation metric, the learning rate, time and speed; a gradient-health
// warning (vanishing or exploding gradients, mostly dead ReLU units) follows on its own line.
// An ensemble's lines and bar start with the member ("member 2/5 epoch 3/50 ..."), each member's
// running loss and time its own (members may train side by side).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#include "tmlp/trainer.hpp"

namespace tmlp::cli {

class progress {
 public:
  enum class mode { quiet, lines, bar };
  // quiet if asked; bar if standard output is a terminal; lines otherwise.
  static mode detect(bool quiet);

  // n_epochs: the most epochs (for "epoch 3/50"); n_rows, batch_size: training rows and rows
  // per batch (0 = full batch), for samples per second. Writes to out.
  // n_members: an ensemble's (1: one model).
  progress(mode m, std::size_t n_epochs, std::size_t n_rows, std::size_t batch_size,
           std::size_t n_members = 1, std::FILE* out = stdout);

  void batch(const batch_report& b);
  void epoch(const epoch_report& e);
  // Clears a bar left on the line (a run stopped within an epoch); call before other output.
  void finish();

 private:
  using clock = std::chrono::steady_clock;
  void draw(const batch_report& b, clock::time_point now);

  mode mode_;
  std::size_t n_epochs_, n_rows_, batch_size_;
  std::FILE* out_;
  clock::time_point last_draw_;
  bool drawn_ = false;         // a bar is on the current line
  std::size_t bar_width_ = 0;  // characters of the bar last drawn
  struct running {             // one per member: its epoch so far
    clock::time_point epoch_start;
    double loss_sum = 0.0;
    std::size_t n_losses = 0;
  };
  std::vector<running> members_;
};

}  // namespace tmlp::cli
