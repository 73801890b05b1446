// What every communicator shares: detecting an MPI launch, and the check that every rank
// describes its run alike.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "io/file_io.hpp"
#include "tmlp/distributed.hpp"

namespace tmlp {

bool launched_by_mpi() noexcept {
  // Open MPI (mpirun, PRRTE), MPICH's Hydra and Slurm's PMI set these in each process they start.
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"})
    if (std::getenv(v) != nullptr) return true;
  return false;
}

int launcher_rank() noexcept {
  for (const char* v : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"})
    if (const char* r = std::getenv(v)) return std::atoi(r);
  return -1;
}

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string key_of(const std::string& line) { return line.substr(0, line.find(':')); }

// The first line where mine differs from rank 0's, as one sentence; empty if none.
std::string first_difference(int rank, const std::string& mine, const std::string& root) {
  const std::vector<std::string> a = lines_of(mine), b = lines_of(root);
  for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    const std::string x = i < a.size() ? a[i] : "", y = i < b.size() ? b[i] : "";
    if (x == y) continue;
    const std::string key = key_of(x.empty() ? y : x);
    auto value = [&](const std::string& line) {
      if (line.empty()) return std::string("nothing");
      const std::size_t colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 1 + (line[colon + 1] == ' '));
    };
    return fmt::format("ranks disagree on {}: rank {} has {}, rank 0 has {}", key, rank, value(x),
                       value(y));
  }
  return {};
}

}  // namespace

void check_same_on_every_rank(communicator& comm, const std::string& description) {
  if (comm.size() <= 1) return;
  // Rank 0's text to every rank, then each rank's verdict (a line, cut to a fixed size) to all.
  std::uint64_t len = description.size();
  comm.broadcast(0, std::as_writable_bytes(std::span(&len, 1)));
  std::string root(len, '\0');
  if (comm.rank() == 0) root = description;
  comm.broadcast(0, std::as_writable_bytes(std::span(root.data(), root.size())));
  constexpr std::size_t width = 480;
  std::vector<char> mine(width, '\0'), all(width * static_cast<std::size_t>(comm.size()));
  const std::string diff = first_difference(comm.rank(), description, root);
  std::memcpy(mine.data(), diff.data(), std::min(diff.size(), width - 1));
  comm.all_gather(std::as_bytes(std::span(mine)), std::as_writable_bytes(std::span(all)));
  for (int r = 1; r < comm.size(); ++r) {
    const char* line = all.data() + static_cast<std::size_t>(r) * width;
    if (line[0] != '\0') throw collective_error(errc::invalid_argument, line);
  }
}

std::string file_fingerprint(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw error(errc::io, fmt::format("{}: cannot open", path));
  const auto size = static_cast<std::uint64_t>(in.tellg());
  constexpr std::uint64_t edge = 1 << 20, piece = 4096, n_pieces = 64;
  std::vector<char> buf;
  std::uint64_t h = io::fnv1a_offset;
  auto take = [&](std::uint64_t at, std::uint64_t len) {
    len = std::min(len, size - std::min(at, size));
    buf.resize(len);
    in.seekg(static_cast<std::streamoff>(at));
    in.read(buf.data(), static_cast<std::streamsize>(len));
    if (!in) throw error(errc::io, fmt::format("{}: cannot read", path));
    h = io::fnv1a(reinterpret_cast<const unsigned char*>(buf.data()), len, h);
  };
  take(0, edge);
  for (std::uint64_t i = 1; i <= n_pieces; ++i) take(size / (n_pieces + 1) * i, piece);
  take(size > edge ? size - edge : 0, edge);
  return fmt::format("{} bytes, sampled hash {:016x}", size, h);
}

}  // namespace tmlp
