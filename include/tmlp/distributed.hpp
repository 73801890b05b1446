// Training on several processes: the communicator a trainer reduces its gradients through.
//
//     std::unique_ptr<tmlp::communicator> world = tmlp::mpi_world();  // under mpirun
//     tmlp::trainer t(config);
//     t.distribute(*world);                  // every rank: the same model, config and data
//     tmlp::fit_result r = t.fit(m, x, y);   // every rank ends with the same parameters
//
// Rank r of R computes a fixed, contiguous range of each batch's shards (the same shards as on
// one process) and the ranks add their gradients in a chain, rank 0 first, so that every sum
// keeps the one-process order: R processes give the same model, bit for bit, as one, for any
// R and any threads per process. docs/DISTRIBUTED.md has the design.
//
// A communicator is a small set of messages between ranks; tmlp::mpi_world() is Open MPI's
// (in a build with TMLP_WITH_MPI), and a program may bring its own (tests use threads).
// Every call may throw tmlp::error (errc::io) when a peer fails or stops answering.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "tmlp/error.hpp"

namespace tmlp {

// An error every rank raises alike (a disagreement found by a collective check): a program
// may report it from rank 0 only.
class collective_error : public error {
 public:
  using error::error;
};

class communicator {
 public:
  virtual ~communicator() = default;
  virtual int rank() const noexcept = 0;
  virtual int size() const noexcept = 0;

  // Point to point, non-blocking: the buffer must stay valid (and, for a receive, unread)
  // until wait_all() returns. A receive must match the sent size exactly. Messages between two
  // ranks arrive in the order they were posted.
  virtual void post_send(int to, std::span<const std::byte> data) = 0;
  virtual void post_recv(int from, std::span<std::byte> data) = 0;
  // Waits for the oldest receive posted and not yet waited for.
  virtual void wait_recv() = 0;
  // A broadcast from root, non-blocking: every rank posts the same broadcasts in the same order
  // (root's data is sent, the others' received); done when wait_all() returns.
  virtual void post_broadcast(int root, std::span<std::byte> data) = 0;
  // Waits for every message and broadcast posted.
  virtual void wait_all() = 0;

  // Collectives: every rank calls them in the same order.
  virtual void broadcast(int root, std::span<std::byte> data) = 0;
  // Every rank gives mine (the same size on every rank); all receives them in rank order.
  virtual void all_gather(std::span<const std::byte> mine, std::span<std::byte> all) = 0;

  // Bytes this rank has sent, point to point and its share of the collectives, since creation.
  virtual std::uint64_t bytes_sent() const noexcept = 0;
};

// The processes mpirun started (MPI_COMM_WORLD); initializes MPI on the first call and
// finalizes it at exit. A peer that fails, or sends nothing for `timeout` while this rank waits,
// ends the wait with tmlp::error naming the rank. Throws tmlp::error if this build has no MPI.
std::unique_ptr<communicator> mpi_world(std::chrono::seconds timeout = std::chrono::seconds(300));

// After an error on this rank alone (others may be waiting for it): ends every process of the
// MPI job now, with exit status code. Returns (does nothing) if MPI is not initialized.
void mpi_abort(int code) noexcept;
// Whether MPI is initialized (mpi_world() was called) and not yet finalized.
bool mpi_started() noexcept;

// Whether this build can train across processes (TMLP_WITH_MPI), and whether this process
// was started by an MPI launcher (mpirun, srun: by its environment, without initializing MPI).
bool mpi_available() noexcept;
bool launched_by_mpi() noexcept;
// This process's rank as its launcher set it (for messages before or without MPI); -1 if none.
int launcher_rank() noexcept;

// Checks that every rank of comm describes its run the same way: each rank gives a text of
// "key: value" lines (version, flags, data file, ...). Throws tmlp::error on every rank if one
// differs (collective_error), naming the rank, the first differing line and both values.
void check_same_on_every_rank(communicator& comm, const std::string& description);

// A line that tells files apart without reading them whole: the size and a hash of the first and
// last MiB and 64 pieces spread between (for check_same_on_every_rank). Throws tmlp::error if
// the file cannot be read.
std::string file_fingerprint(const std::string& path);

}  // namespace tmlp
