// tmlp::export_onnx in a build without ONNX (TMLP_WITH_ONNX off): says so.
#include "tmlp/error.hpp"
#include "tmlp/onnx.hpp"

namespace tmlp {
namespace {
[[noreturn]] void no_onnx() {
  throw error(errc::unsupported,
              "this tmlp was built without ONNX (TMLP_WITH_ONNX=OFF; install libonnx-dev and "
              "rebuild): it cannot export");
}
}  // namespace

std::string onnx_bytes(const predictor&, const onnx_options&) { no_onnx(); }
std::string onnx_bytes(const model&, const onnx_options&) { no_onnx(); }
std::string onnx_bytes(const loaded_model&, const onnx_options&) { no_onnx(); }
void export_onnx(const predictor&, const std::string&, const onnx_options&) { no_onnx(); }
void export_onnx(const model&, const std::string&, const onnx_options&) { no_onnx(); }
void export_onnx(const loaded_model&, const std::string&, const onnx_options&) { no_onnx(); }
std::string onnx_notice(const predictor&, const onnx_options&) { no_onnx(); }
void add_hashed_levels(onnx_options&, const predictor&, const table_view&) { no_onnx(); }
bool onnx_available() noexcept { return false; }

}  // namespace tmlp
