// The tmlp program. Subcommands are added as the library grows; each prints errors as one line
// on stderr and exits non-zero.
#include <cstdio>
#include <string>

#include <fmt/format.h>
#include <tbb/info.h>
#include <CLI/CLI.hpp>

#include "blas.hpp"
#include "kernels.hpp"
#include "tmlp/error.hpp"
#include "tmlp/version.hpp"

namespace {

// `tmlp system`: what this machine and build give the library.
int run_system() {
  const auto& k = tmlp::kernels::active();
  std::string avail;
  for (auto n : tmlp::kernels::available()) avail += (avail.empty() ? "" : " ") + std::string(n);
  fmt::print("tmlp {}\n", tmlp::version_string);
  fmt::print("simd kernels : {} ({} float lanes); available: {}\n", k.name, k.lanes, avail);
  fmt::print("               set TMLP_SIMD=scalar|sse2|avx2|avx512 to force one\n");
  fmt::print("blas         : {}\n", tmlp::blas::describe());
  fmt::print("cpu threads  : {} (oneTBB default concurrency)\n", tbb::info::default_concurrency());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tmlp: fast multilayer perceptrons for tabular data on multicore CPUs", "tmlp"};
  app.set_version_flag("--version", std::string(tmlp::version_string));
  app.require_subcommand(1);
  auto* system = app.add_subcommand(
      "system", "Show the SIMD kernels, BLAS and threads this machine gives tmlp");
  bool list_simd = false;
  system->add_flag("--list-simd", list_simd,
                   "Print only the SIMD architectures usable here, one per line");
  try {
    app.parse(argc, argv);
    if (system->parsed() && list_simd) {
      for (auto n : tmlp::kernels::available()) fmt::print("{}\n", n);
      return 0;
    }
    if (system->parsed()) return run_system();
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const tmlp::error& e) {
    std::fprintf(stderr, "tmlp: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tmlp: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
