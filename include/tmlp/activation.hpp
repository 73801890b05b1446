// The activation functions of a dense layer: one enum shared by the model specification
// (model.hpp) and the kernels. Standard library only, so kernels/ may include it.
//
//     tmlp::layer_spec l{.units = 64, .act = tmlp::activation::gelu};
//
// Names and parsing: to_string(activation), activation_from_string and activation_names() in
// model.hpp.
#pragma once

namespace tmlp {

// Activation after a dense layer. Numeric values are stable (stored in model files).
enum class activation : int {
  identity = 0,
  relu,
  leaky_relu,  // x > 0 ? x : alpha * x
  prelu,       // x > 0 ? x : a_j * x, one learned slope a_j per unit (initialized to alpha)
  elu,         // x > 0 ? x : alpha * (exp(x) - 1)
  selu,        // lambda * (x > 0 ? x : alpha' * (exp(x) - 1)), the fixed constants of Klambauer
               // et al. (lambda = 1.0507009873554805, alpha' = 1.6732632423543772)
  sigmoid,     // 1 / (1 + exp(-x))
  tanh,
  gelu,       // exact form, x * Phi(x) = x * 0.5 * (1 + erf(x / sqrt(2)))
  gelu_tanh,  // tanh approximation, x * 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
  softplus,   // log(1 + exp(x)), computed as max(x, 0) + log1p(exp(-|x|))
};

// The number of activations; values are 0..n_activations-1.
inline constexpr int n_activations = static_cast<int>(activation::softplus) + 1;

}  // namespace tmlp
