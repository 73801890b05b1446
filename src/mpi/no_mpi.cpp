// tmlp::mpi_world() in a build without MPI (TMLP_WITH_MPI off): says so.
#include "tmlp/distributed.hpp"

namespace tmlp {

std::unique_ptr<communicator> mpi_world(std::chrono::seconds) {
  throw error(errc::unsupported,
              "this tmlp was built without MPI (TMLP_WITH_MPI=OFF; install libopenmpi-dev and "
              "rebuild): it cannot train across processes");
}

bool mpi_available() noexcept { return false; }

void mpi_abort(int) noexcept {}

bool mpi_started() noexcept { return false; }

}  // namespace tmlp
