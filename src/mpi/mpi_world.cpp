// tmlp::mpi_world(): the communicator over Open MPI's MPI_COMM_WORLD.
//
// Errors return (MPI_ERRORS_RETURN) instead of aborting, and every wait polls its requests
// against a deadline, so a peer that fails or stops answering ends the wait with one line that
// names it instead of a hang. Only the thread that calls fit() talks to MPI (funneled).
#include <mpi.h>

#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "tmlp/distributed.hpp"

namespace tmlp {
namespace {

std::string mpi_message(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) return fmt::format("MPI error {}", code);
  return std::string(text, static_cast<std::size_t>(len));
}

// Initializes MPI once; finalizes it at exit unless the process is failing.
void init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) return;
    int provided = 0;
    const int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS)
      throw error(errc::unsupported, fmt::format("MPI_Init_thread: {}", mpi_message(rc)));
    std::atexit([] {
      int finalized = 0;
      MPI_Finalized(&finalized);
      if (!finalized) MPI_Finalize();
    });
  });
}

class mpi_communicator final : public communicator {
 public:
  explicit mpi_communicator(std::chrono::seconds timeout) : timeout_(timeout) {
    init_once();
    MPI_Comm_dup(MPI_COMM_WORLD, &comm_);
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~mpi_communicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }

  int rank() const noexcept override { return rank_; }
  int size() const noexcept override { return size_; }

  void post_send(int to, std::span<const std::byte> data) override {
    sends_.push_back({MPI_REQUEST_NULL, to});
    check(MPI_Isend(data.data(), count(data.size()), MPI_BYTE, to, tag, comm_, &sends_.back().req),
          "send", to);
    bytes_ += data.size();
  }
  void post_recv(int from, std::span<std::byte> data) override {
    recvs_.push_back({MPI_REQUEST_NULL, from});
    check(
        MPI_Irecv(data.data(), count(data.size()), MPI_BYTE, from, tag, comm_, &recvs_.back().req),
        "receive", from);
  }
  void wait_recv() override {
    if (recvs_.empty()) return;
    wait(recvs_.front());
    recvs_.pop_front();
  }
  void post_broadcast(int root, std::span<std::byte> data) override {
    sends_.push_back({MPI_REQUEST_NULL, root});
    check(MPI_Ibcast(data.data(), count(data.size()), MPI_BYTE, root, comm_, &sends_.back().req),
          "broadcast", root);
    if (rank_ == root) bytes_ += data.size();
  }
  void wait_all() override {
    while (!recvs_.empty()) wait_recv();
    for (pending& p : sends_) wait(p);
    sends_.clear();
  }

  void broadcast(int root, std::span<std::byte> data) override {
    pending p{MPI_REQUEST_NULL, root};
    check(MPI_Ibcast(data.data(), count(data.size()), MPI_BYTE, root, comm_, &p.req), "broadcast",
          root);
    wait(p);
    if (rank_ == root) bytes_ += data.size();  // what the root injects; a tree forwards more
  }
  void all_gather(std::span<const std::byte> mine, std::span<std::byte> all) override {
    pending p{MPI_REQUEST_NULL, -1};
    check(MPI_Iallgather(mine.data(), count(mine.size()), MPI_BYTE, all.data(), count(mine.size()),
                         MPI_BYTE, comm_, &p.req),
          "all-gather", -1);
    wait(p);
    bytes_ += mine.size() * static_cast<std::size_t>(size_ - 1);
  }
  std::uint64_t bytes_sent() const noexcept override { return bytes_; }

 private:
  static constexpr int tag = 7;
  struct pending {
    MPI_Request req;
    int peer;  // -1: every rank
  };

  static int count(std::size_t bytes) {
    if (bytes > static_cast<std::size_t>(INT32_MAX))
      throw error(errc::unsupported, fmt::format("MPI message of {} bytes (at most 2 GiB)", bytes));
    return static_cast<int>(bytes);
  }
  void check(int rc, const char* what, int peer) const {
    if (rc == MPI_SUCCESS) return;
    throw error(errc::io, fmt::format("rank {}: {} {}: {}", rank_, what,
                                      peer < 0 ? std::string("with every rank")
                                               : fmt::format("with rank {}", peer),
                                      mpi_message(rc)));
  }
  // Polls the request (each test also moves this rank's other transfers on): spinning for the
  // first millisecond, then sleeping briefly between tests, and failing when the peer has sent
  // nothing for the timeout.
  void wait(pending& p) {
    const auto start = std::chrono::steady_clock::now();
    auto waited = std::chrono::steady_clock::duration::zero();
    for (std::uint64_t tests = 1;; ++tests) {
      int done = 0;
      check(MPI_Test(&p.req, &done, MPI_STATUS_IGNORE), "waiting for a message", p.peer);
      if (done) return;
      if ((tests & 63) == 0) waited = std::chrono::steady_clock::now() - start;
      if (waited < std::chrono::milliseconds(1)) continue;
      std::this_thread::sleep_for(std::chrono::microseconds(20));
      if (waited > timeout_)
        throw error(
            errc::io,
            fmt::format(
                "rank {}: no answer from {} in {} s; a rank has failed or hangs", rank_,
                p.peer < 0 ? std::string("the other ranks") : fmt::format("rank {}", p.peer),
                timeout_.count()));
    }
  }

  std::chrono::seconds timeout_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  std::deque<pending> recvs_;
  std::vector<pending> sends_;
  std::uint64_t bytes_ = 0;
};

}  // namespace

std::unique_ptr<communicator> mpi_world(std::chrono::seconds timeout) {
  return std::make_unique<mpi_communicator>(timeout);
}

bool mpi_available() noexcept { return true; }

bool mpi_started() noexcept {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

void mpi_abort(int code) noexcept {
  if (mpi_started()) MPI_Abort(MPI_COMM_WORLD, code);
}

}  // namespace tmlp
