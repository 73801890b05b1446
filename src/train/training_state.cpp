#include "train/training_state.hpp"

#include "train/optimizer.hpp"

namespace tmlp {

training_state::training_state() : impl_(std::make_unique<train::training_state_data>()) {}
training_state::training_state(const training_state& other)
    : impl_(std::make_unique<train::training_state_data>(*other.impl_)) {}
training_state& training_state::operator=(const training_state& other) {
  if (this != &other) impl_ = std::make_unique<train::training_state_data>(*other.impl_);
  return *this;
}
training_state::training_state(training_state&&) noexcept = default;
training_state& training_state::operator=(training_state&&) noexcept = default;
training_state::~training_state() = default;

std::size_t training_state::epochs_done() const noexcept { return impl_->epochs_done; }
std::size_t training_state::n_steps() const noexcept { return impl_->n_steps; }
std::string_view training_state::optimizer_name() const noexcept {
  return train::optimizer_name(impl_->optimizer_kind);
}
std::size_t training_state::best_epoch() const noexcept { return impl_->best_epoch; }

}  // namespace tmlp
