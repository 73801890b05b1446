// A tmlp::communicator whose ranks are threads of one process: the trainer's exchanges between
// ranks tested without MPI (and under the sanitizers). Sends are buffered (complete at once);
// messages between two ranks arrive in order, point to point and collectives on separate
// channels, like MPI's.
//
//     thread_hub hub(3);
//     run_ranks(3, [&](int r) { thread_communicator c(hub, r); ... });
#pragma once

#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <vector>

#include "tmlp/distributed.hpp"

namespace tmlp::test {

class thread_hub {
 public:
  explicit thread_hub(int size) : size_(size) {}
  int size() const noexcept { return size_; }

  void put(int from, int to, int channel, std::span<const std::byte> data) {
    {
      std::lock_guard lock(m_);
      boxes_[{from, to, channel}].emplace_back(data.begin(), data.end());
    }
    cv_.notify_all();
  }
  void take(int from, int to, int channel, std::span<std::byte> data) {
    std::unique_lock lock(m_);
    auto& box = boxes_[{from, to, channel}];
    cv_.wait(lock, [&] { return !box.empty(); });
    if (box.front().size() != data.size())
      throw std::logic_error("thread_hub: message of another size than the receive");
    std::memcpy(data.data(), box.front().data(), data.size());
    box.pop_front();
  }

 private:
  int size_;
  std::mutex m_;
  std::condition_variable cv_;
  std::map<std::tuple<int, int, int>, std::deque<std::vector<std::byte>>> boxes_;
};

class thread_communicator final : public communicator {
 public:
  thread_communicator(thread_hub& hub, int rank) : hub_(hub), rank_(rank) {}
  int rank() const noexcept override { return rank_; }
  int size() const noexcept override { return hub_.size(); }

  void post_send(int to, std::span<const std::byte> data) override {
    hub_.put(rank_, to, 0, data);
    bytes_ += data.size();
  }
  void post_recv(int from, std::span<std::byte> data) override { recvs_.push_back({from, data}); }
  void wait_recv() override {
    if (recvs_.empty()) return;
    hub_.take(recvs_.front().from, rank_, 0, recvs_.front().data);
    recvs_.pop_front();
  }
  void post_broadcast(int root, std::span<std::byte> data) override {
    if (rank_ == root) {
      broadcast(root, data);
    } else {
      bcasts_.push_back({root, data});
    }
  }
  void wait_all() override {
    while (!recvs_.empty()) wait_recv();
    for (const pending& b : bcasts_) hub_.take(b.from, rank_, 1, b.data);
    bcasts_.clear();
  }
  void broadcast(int root, std::span<std::byte> data) override {
    if (!bcasts_.empty())
      throw std::logic_error("thread_communicator: broadcast while one is posted");
    if (rank_ == root) {
      for (int r = 0; r < size(); ++r)
        if (r != root) hub_.put(root, r, 1, data);
      bytes_ += data.size();
    } else {
      hub_.take(root, rank_, 1, data);
    }
  }
  void all_gather(std::span<const std::byte> mine, std::span<std::byte> all) override {
    for (int r = 0; r < size(); ++r)
      if (r != rank_) hub_.put(rank_, r, 1, mine);
    bytes_ += mine.size() * static_cast<std::size_t>(size() - 1);
    for (int r = 0; r < size(); ++r) {
      std::span<std::byte> slot =
          all.subspan(static_cast<std::size_t>(r) * mine.size(), mine.size());
      if (r == rank_) {
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 at -O3 reads some inlinings of this copy as one of SIZE_MAX bytes (a false positive
// of -Wstringop-overflow and -Wrestrict); the sizes are the spans'.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
        std::memcpy(slot.data(), mine.data(), mine.size());
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
      } else {
        hub_.take(r, rank_, 1, slot);
      }
    }
  }
  std::uint64_t bytes_sent() const noexcept override { return bytes_; }

 private:
  struct pending {
    int from;
    std::span<std::byte> data;
  };
  thread_hub& hub_;
  int rank_;
  std::deque<pending> recvs_;
  std::vector<pending> bcasts_;
  std::uint64_t bytes_ = 0;
};

// Runs body(rank) on n threads, one per rank; rethrows the first exception (by rank).
inline void run_ranks(int n, const std::function<void(int)>& body) {
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(n));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      try {
        body(r);
      } catch (...) {
        errors[static_cast<std::size_t>(r)] = std::current_exception();
      }
    });
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace tmlp::test
