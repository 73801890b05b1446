// Model files: atomic writes, verified reads, and the model spec as JSON.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/model_file.hpp"
#include "tmlp/error.hpp"
#include "tmlp/io.hpp"

namespace tmlp {
namespace {

constexpr char magic[8] = {'T', 'M', 'L', 'P', 'M', 'O', 'D', 'L'};
constexpr std::size_t header_bytes = 32;  // magic, version, reserved, json length, param count
constexpr std::size_t checksum_bytes = 8;
// Far beyond any real model's description; bounds what a hostile header can make us parse.
constexpr std::uint64_t max_json_bytes = std::uint64_t{16} << 20;

std::uint64_t fnv1a(const unsigned char* p, std::size_t n,
                    std::uint64_t h = 0xcbf29ce484222325ULL) noexcept {
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

void put_u32(std::vector<unsigned char>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<unsigned char>(v >> (8 * i)));
}
void put_u64(std::vector<unsigned char>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<unsigned char>(v >> (8 * i)));
}
std::uint64_t get_u64(const unsigned char* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
std::uint32_t get_u32(const unsigned char* p) noexcept {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

[[noreturn]] void io_fail(const std::string& path, const std::string& what) {
  throw error(errc::io, fmt::format("{}: {}: {}", path, what, std::strerror(errno)));
}
[[noreturn]] void corrupt(const std::string& path, const std::string& what) {
  throw error(errc::corrupt_model, fmt::format("{}: not a usable tmlp model file: {}", path, what));
}

// The fixed header: magic, version, and sizes that add up to the file's size exactly.
void check_header(const std::string& path, const unsigned char* head, std::uint64_t size) {
  if (std::memcmp(head, magic, 8) != 0) corrupt(path, "wrong magic bytes (not written by tmlp)");
  const std::uint32_t version = get_u32(head + 8);
  if (version != model_format_version)
    corrupt(path, fmt::format("format version {}, this build reads version {}", version,
                              model_format_version));
  const std::uint64_t json_len = get_u64(head + 16), n_params = get_u64(head + 24);
  const std::uint64_t payload = size - header_bytes - checksum_bytes;
  if (json_len > max_json_bytes || json_len > payload || n_params > (payload - json_len) / 4 ||
      json_len + 4 * n_params != payload)
    corrupt(path,
            fmt::format(
                "sizes in the header ({} bytes of JSON, {} parameters) do not match the file's {} "
                "bytes (truncated or damaged)",
                json_len, n_params, size));
}

// Nesting depth of a JSON text (brackets outside strings), checked before parsing so a hostile
// header cannot exhaust the stack; a model's header nests 4 levels.
constexpr int max_json_depth = 64;
int json_depth(const unsigned char* p, std::uint64_t n) noexcept {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (std::uint64_t i = 0; i < n; ++i) {
    const unsigned char c = p[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

template <class E>
E enum_from(const nlohmann::json& j, const char* field,
            std::optional<E> (*parse)(std::string_view) noexcept) {
  const std::string name = j.get<std::string>();
  if (const std::optional<E> v = parse(name)) return *v;
  throw error(errc::invalid_argument, fmt::format("model spec: unknown {} '{}'", field, name));
}

void write_all(int fd, const unsigned char* p, std::size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) io_fail(path, "cannot write");
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

}  // namespace

std::string spec_to_json(const model_spec& spec) {
  nlohmann::json layers = nlohmann::json::array();
  for (const dense_spec& l : spec.layers) {
    nlohmann::json j{{"units", l.units},
                     {"activation", std::string(to_string(l.act))},
                     {"init", std::string(to_string(l.init))}};
    if (l.alpha) j["alpha"] = *l.alpha;
    layers.push_back(std::move(j));
  }
  const nlohmann::json j{{"n_inputs", spec.n_inputs},
                         {"layers", std::move(layers)},
                         {"loss", std::string(to_string(spec.loss))},
                         {"huber_delta", spec.huber_delta},
                         {"seed", spec.seed}};
  return j.dump();
}

model_spec spec_from_json(const std::string& text) {
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    model_spec s;
    s.n_inputs = j.at("n_inputs").get<std::size_t>();
    for (const auto& l : j.at("layers")) {
      dense_spec d;
      d.units = l.at("units").get<std::size_t>();
      d.act = enum_from(l.at("activation"), "activation", &activation_from_string);
      d.init = enum_from(l.at("init"), "init", &init_from_string);
      if (l.contains("alpha")) d.alpha = l.at("alpha").get<float>();
      s.layers.push_back(d);
    }
    s.loss = enum_from(j.at("loss"), "loss", &loss_from_string);
    s.huber_delta = j.at("huber_delta").get<float>();
    s.seed = j.at("seed").get<std::uint64_t>();
    validate(s);
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw error(errc::invalid_argument, std::string("model spec: malformed JSON: ") + e.what());
  }
}

void save_model(const model& m, const std::string& path, const std::string& metadata_json) {
  nlohmann::json header;
  header["spec"] = nlohmann::json::parse(spec_to_json(m.spec()));
  try {
    header["metadata"] =
        metadata_json.empty() ? nlohmann::json() : nlohmann::json::parse(metadata_json);
  } catch (const nlohmann::json::exception& e) {
    throw error(errc::invalid_argument,
                std::string("save_model: metadata is not JSON: ") + e.what());
  }
  const std::string json = header.dump();
  const auto params = m.parameters();

  std::vector<unsigned char> bytes;
  bytes.reserve(header_bytes + json.size() + params.size() * 4 + checksum_bytes);
  bytes.insert(bytes.end(), magic, magic + 8);
  put_u32(bytes, model_format_version);
  put_u32(bytes, 0);
  put_u64(bytes, json.size());
  put_u64(bytes, params.size());
  bytes.insert(bytes.end(), json.begin(), json.end());
  for (float p : params) {
    std::uint32_t u;
    std::memcpy(&u, &p, 4);
    put_u32(bytes, u);
  }
  put_u64(bytes, fnv1a(bytes.data(), bytes.size()));

  // Temporary file in the same directory, so the rename is atomic.
  const std::string tmp = fmt::format("{}.tmp.{}", path, static_cast<long>(::getpid()));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) io_fail(tmp, "cannot create");
  try {
    write_all(fd, bytes.data(), bytes.size(), tmp);
    if (::fsync(fd) != 0) io_fail(tmp, "cannot flush to disk");
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    io_fail(tmp, "cannot close");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    errno = e;
    io_fail(path, "cannot replace");
  }
  // Make the rename itself durable.
  const std::size_t slash = path.find_last_of('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

loaded_model load_model(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) io_fail(path, "cannot open");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    io_fail(path, "cannot stat");
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw error(errc::io, path + ": is a directory, not a model file");
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < header_bytes + checksum_bytes) {
    ::close(fd);
    corrupt(path, fmt::format("{} bytes is shorter than any model file", size));
  }
  // Check the header before reading the rest, so a hostile size never drives an allocation.
  unsigned char head[header_bytes];
  if (::pread(fd, head, header_bytes, 0) != static_cast<ssize_t>(header_bytes)) {
    ::close(fd);
    io_fail(path, "cannot read");
  }
  try {
    check_header(path, head, size);
  } catch (...) {
    ::close(fd);
    throw;
  }
  std::vector<unsigned char> bytes(size);
  std::size_t got = 0;
  while (got < size) {
    const ssize_t r = ::pread(fd, bytes.data() + got, size - got, static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      ::close(fd);
      io_fail(path, "cannot read");
    }
    got += static_cast<std::size_t>(r);
  }
  ::close(fd);
  return parse_model_file(bytes, path);
}

loaded_model parse_model_file(std::span<const unsigned char> data, const std::string& path) {
  const std::uint64_t size = data.size();
  if (size < header_bytes + checksum_bytes)
    corrupt(path, fmt::format("{} bytes is shorter than any model file", size));
  const unsigned char* bytes = data.data();
  check_header(path, bytes, size);
  const std::uint64_t json_len = get_u64(bytes + 16), n_params = get_u64(bytes + 24);
  if (fnv1a(bytes, size - checksum_bytes) != get_u64(bytes + size - checksum_bytes))
    corrupt(path, "checksum mismatch (the file is damaged)");

  if (json_depth(bytes + header_bytes, json_len) > max_json_depth)
    corrupt(path, "header JSON is nested too deeply");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes + header_bytes, bytes + header_bytes + json_len);
  } catch (const nlohmann::json::exception& e) {
    corrupt(path, std::string("header is not JSON: ") + e.what());
  }
  if (!header.is_object() || !header.contains("spec")) corrupt(path, "header has no model spec");
  model_spec spec;
  try {
    spec = spec_from_json(header["spec"].dump());
  } catch (const error& e) {
    corrupt(path, e.what());
  }
  // The spec's own parameter count must be the file's before a model is allocated.
  std::uint64_t expect = 0, n_in = spec.n_inputs;
  for (const dense_spec& l : spec.layers) {
    expect += l.units * n_in + l.units + (l.act == activation::prelu ? l.units : 0);
    n_in = l.units;
  }
  if (expect != n_params)
    corrupt(path, fmt::format("spec needs {} parameters, file holds {}", expect, n_params));
  model m = model::create(spec);
  auto params = m.parameters();
  const unsigned char* p = bytes + header_bytes + json_len;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const std::uint32_t u = get_u32(p + 4 * i);
    std::memcpy(&params[i], &u, 4);
    if (!std::isfinite(params[i])) corrupt(path, fmt::format("parameter {} is not finite", i));
  }
  return loaded_model{std::move(m),
                      header.contains("metadata") ? header["metadata"].dump() : "null"};
}

}  // namespace tmlp
