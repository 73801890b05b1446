// The training progress display: a bar redrawn in place on a terminal, epoch lines otherwise.
#include "cli/progress.hpp"

#include <unistd.h>
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace tmlp::cli {
namespace {

constexpr auto redraw_every = std::chrono::milliseconds(100);
constexpr std::size_t bar_cells = 24;

// 950, 45.1k, 1.23M
std::string si(double v) {
  if (v >= 1e6) return fmt::format("{:.3g}M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.3g}k", v / 1e3);
  return fmt::format("{:.0f}", v);
}

// 0:07, 12:34, 1:02:03
std::string clock_time(double seconds) {
  const auto s = static_cast<long long>(std::max(0.0, std::round(seconds)));
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

// v with `digits` decimals where that reads well, in exponent notation when huge or tiny.
std::string number_text(double v, int digits) {
  const double a = std::fabs(v);
  if (a == 0.0 || (a >= 1e-3 && a < 1e5)) return fmt::format("{:.{}f}", v, digits);
  return fmt::format("{:.{}e}", v, digits - 1);
}

std::string epoch_line(const epoch_report& e, std::size_t n_epochs) {
  const int width = static_cast<int>(fmt::formatted_size("{}", n_epochs));
  std::string line = fmt::format("epoch {:>{}}/{}  train loss {}", e.epoch, width, n_epochs,
                                 number_text(e.train_loss, 5));
  if (e.valid_loss) line += fmt::format("  valid loss {}", number_text(*e.valid_loss, 5));
  if (e.valid_metric)
    line += fmt::format("  valid {} {}", e.metric_name, number_text(*e.valid_metric, 4));
  line += fmt::format("  lr {:.3g}  {:.{}f} s  {} samples/s", e.lr, e.seconds,
                      e.seconds < 10.0 ? 2 : 1, si(e.samples_per_second));
  return line;
}

// One line per kind of warning, each ending in '\n'; empty when the layers are healthy.
std::string health_warnings(const epoch_report& e) {
  std::string exploding, vanishing, dead;
  for (std::size_t i = 0; i < e.layers.size(); ++i) {
    const layer_health& h = e.layers[i];
    const char* sep = ", ";
    if (h.exploding)
      exploding += fmt::format("{}{} ({:.2g})", exploding.empty() ? "" : sep, i + 1, h.grad_norm);
    if (h.vanishing)
      vanishing += fmt::format("{}{} ({:.2g})", vanishing.empty() ? "" : sep, i + 1,
                               h.grad_norm / std::max(h.weight_norm, 1e-30));
    if (h.dead_fraction >= 0.5)
      dead +=
          fmt::format("{}{} ({:.0f}%)", dead.empty() ? "" : sep, i + 1, 100.0 * h.dead_fraction);
  }
  std::string out;
  if (!exploding.empty())
    out += fmt::format(
        "  warning: exploding gradients in layer {} (gradient norm); try a lower --lr or "
        "--clip-norm\n",
        exploding);
  if (!vanishing.empty())
    out += fmt::format("  warning: vanishing gradients in layer {} (gradient / weight norm)\n",
                       vanishing);
  if (!dead.empty())
    out += fmt::format("  warning: dead ReLU units (0 for every sampled row) in layer {}\n", dead);
  return out;
}

// "member 2/5 " for member 1 of 5; "" for one model.
std::string member_prefix(std::size_t member, std::size_t n_members) {
  if (n_members <= 1) return {};
  const int width = static_cast<int>(fmt::formatted_size("{}", n_members));
  return fmt::format("member {:>{}}/{} ", member + 1, width, n_members);
}

}  // namespace

progress::mode progress::detect(bool quiet) {
  if (quiet) return mode::quiet;
  return isatty(fileno(stdout)) ? mode::bar : mode::lines;
}

progress::progress(mode m, std::size_t n_epochs, std::size_t n_rows, std::size_t batch_size,
                   std::size_t n_members, std::FILE* out)
    : mode_(m),
      n_epochs_(n_epochs),
      n_rows_(n_rows),
      batch_size_(batch_size == 0 ? n_rows : std::min(batch_size, n_rows)),
      out_(out),
      last_draw_(clock::now()),
      members_(std::max<std::size_t>(n_members, 1), running{.epoch_start = last_draw_}) {}

void progress::batch(const batch_report& b) {
  running& r = members_.at(b.member);
  r.loss_sum += b.loss;
  ++r.n_losses;
  if (mode_ != mode::bar) return;
  const clock::time_point now = clock::now();
  if (now - last_draw_ < redraw_every) return;
  last_draw_ = now;
  draw(b, now);
}

void progress::draw(const batch_report& b, clock::time_point now) {
  const running& r = members_.at(b.member);
  const double elapsed = std::chrono::duration<double>(now - r.epoch_start).count();
  const double done = static_cast<double>(b.batch) / static_cast<double>(b.n_batches);
  const auto filled = static_cast<std::size_t>(done * static_cast<double>(bar_cells));
  const double rows = static_cast<double>(std::min(b.batch * batch_size_, n_rows_));
  const double eta =
      elapsed / static_cast<double>(b.batch) * static_cast<double>(b.n_batches - b.batch);
  const int width = static_cast<int>(fmt::formatted_size("{}", n_epochs_));
  const std::string bar = fmt::format(
      "{}epoch {:>{}}/{} [{}{}] {}/{}  {} samples/s  loss {}  ETA {}",
      member_prefix(b.member, members_.size()), b.epoch, width, n_epochs_, std::string(filled, '#'),
      std::string(bar_cells - filled, '.'), b.batch, b.n_batches,
      si(rows / std::max(elapsed, 1e-9)),
      number_text(r.loss_sum / static_cast<double>(std::max<std::size_t>(r.n_losses, 1)), 5),
      clock_time(eta));
  // Pad over a longer previous bar.
  fmt::print(out_, "\r{:<{}}", bar, std::max(bar.size(), bar_width_));
  std::fflush(out_);
  bar_width_ = bar.size();
  drawn_ = true;
}

void progress::finish() {
  if (drawn_) fmt::print(out_, "\r{}\r", std::string(bar_width_, ' '));
  drawn_ = false;
  bar_width_ = 0;
}

void progress::epoch(const epoch_report& e) {
  if (mode_ != mode::quiet) {
    finish();
    fmt::print(out_, "{}{}\n{}", member_prefix(e.member, members_.size()), epoch_line(e, n_epochs_),
               health_warnings(e));
    std::fflush(out_);
  }
  running& r = members_.at(e.member);
  r.loss_sum = 0.0;
  r.n_losses = 0;
  r.epoch_start = last_draw_ = clock::now();
}

}  // namespace tmlp::cli
