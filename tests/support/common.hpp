// Small helpers shared by the test files: parameter snapshots compared bit for bit, the message
// of the tmlp::error a call throws, and scratch files.
#pragma once

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <vector>

#include <unistd.h>

#include "tmlp/error.hpp"
#include "tmlp/model.hpp"

namespace tmlp::test {

inline std::vector<float> params_of(const model& m) {
  const auto p = m.parameters();
  return {p.begin(), p.end()};
}

inline bool same_bits(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size_bytes()) == 0);
}
inline bool same_bits(const matrix& a, const matrix& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         same_bits(std::span<const float>(a.data(), a.size()),
                   std::span<const float>(b.data(), b.size()));
}

// what() of the tmlp::error that f throws; a marker when it throws nothing or something else.
template <class F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const error& e) {
    return e.what();
  } catch (...) {
    return "(another exception type)";
  }
  return "(nothing thrown)";
}

// A directory for this process's scratch files, named after the test file (created if needed).
inline std::filesystem::path scratch_dir(const std::string& name) {
  const std::filesystem::path d =
      std::filesystem::temp_directory_path() / ("tmlp_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(d);
  return d;
}

inline std::vector<unsigned char> read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::filesystem::path& p, const std::vector<unsigned char>& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

}  // namespace tmlp::test
