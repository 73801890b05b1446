// tmlp/ensemble.hpp: an ensemble's prediction, the mean of its members' outputs.
#include <vector>

#include <fmt/format.h>

#include "tmlp/ensemble.hpp"
#include "tmlp/error.hpp"

namespace tmlp {

std::vector<const model*> members_of(const loaded_model& l) {
  std::vector<const model*> members{&l.model};
  for (const model& m : l.more_members) members.push_back(&m);
  return members;
}

void predict_mean(std::span<const model* const> members, matrix_view x, matrix_span out,
                  const predict_options& options) {
  if (members.empty()) throw error(errc::invalid_argument, "predict_mean: no members");
  if (members.size() > 1 && options.raw)
    throw error(errc::invalid_argument,
                "raw outputs of an ensemble: its prediction is the mean of its members' "
                "probabilities, not of their logits; predict without raw");
  for (const model* m : members)
    if (m->n_inputs() != members[0]->n_inputs() || m->n_outputs() != members[0]->n_outputs())
      throw error(errc::invalid_argument,
                  fmt::format("predict_mean: a member has {} inputs and {} outputs, the first "
                              "{} and {}",
                              m->n_inputs(), m->n_outputs(), members[0]->n_inputs(),
                              members[0]->n_outputs()));
  members[0]->predict(x, out, options);
  if (members.size() == 1) return;
  std::vector<double> sum(out.data, out.data + out.size());
  matrix one(out.rows, out.cols);
  for (std::size_t i = 1; i < members.size(); ++i) {
    members[i]->predict(x, one.span(), options);
    for (std::size_t j = 0; j < sum.size(); ++j) sum[j] += one.data()[j];
  }
  const double n = static_cast<double>(members.size());
  for (std::size_t j = 0; j < sum.size(); ++j) out.data[j] = static_cast<float>(sum[j] / n);
}

}  // namespace tmlp
