// tmlp/tmlp.h: statuses, the thread's last error and the version.
#include <cstring>
#include <new>

#include "capi/capi.hpp"
#include "tmlp/error.hpp"
#include "tmlp/version.hpp"

namespace tmlp::capi {
namespace {

// A fixed buffer, so that storing a message never allocates (it may report bad_alloc).
thread_local char last_error[4096] = "";

tmlp_status fail(tmlp_status status, const char* prefix, const char* message) noexcept {
  const std::size_t n_prefix = std::min(std::strlen(prefix), sizeof last_error - 1);
  std::memcpy(last_error, prefix, n_prefix);
  const std::size_t n = std::min(std::strlen(message), sizeof last_error - 1 - n_prefix);
  std::memcpy(last_error + n_prefix, message, n);
  last_error[n_prefix + n] = '\0';
  return status;
}

tmlp_status status_of(errc code) noexcept {
  switch (code) {
    case errc::invalid_argument:
      return TMLP_INVALID_ARGUMENT;
    case errc::invalid_data:
      return TMLP_INVALID_DATA;
    case errc::io:
      return TMLP_IO;
    case errc::corrupt_model:
      return TMLP_CORRUPT_MODEL;
    case errc::unsupported:
      return TMLP_UNSUPPORTED;
    case errc::cancelled:
      return TMLP_CANCELLED;
  }
  return TMLP_INTERNAL;
}

}  // namespace

void clear_error() noexcept { last_error[0] = '\0'; }

tmlp_status current_exception_status() noexcept {
  try {
    throw;
  } catch (const error& e) {
    return fail(status_of(e.code()), "", e.what());
  } catch (const bad_argument& e) {
    return fail(TMLP_BAD_ARGUMENT, "", e.what());
  } catch (const std::bad_alloc&) {
    return fail(TMLP_OUT_OF_MEMORY, "", "out of memory");
  } catch (const std::exception& e) {
    return fail(TMLP_INTERNAL, "internal error: ", e.what());
  } catch (...) {
    return fail(TMLP_INTERNAL, "internal error: ", "an exception of unknown type");
  }
}

}  // namespace tmlp::capi

extern "C" {

const char* tmlp_last_error(void) { return tmlp::capi::last_error; }

const char* tmlp_status_name(tmlp_status status) {
  switch (status) {
    case TMLP_OK:
      return "TMLP_OK";
    case TMLP_INVALID_ARGUMENT:
      return "TMLP_INVALID_ARGUMENT";
    case TMLP_INVALID_DATA:
      return "TMLP_INVALID_DATA";
    case TMLP_IO:
      return "TMLP_IO";
    case TMLP_CORRUPT_MODEL:
      return "TMLP_CORRUPT_MODEL";
    case TMLP_UNSUPPORTED:
      return "TMLP_UNSUPPORTED";
    case TMLP_CANCELLED:
      return "TMLP_CANCELLED";
    case TMLP_BAD_ARGUMENT:
      return "TMLP_BAD_ARGUMENT";
    case TMLP_OUT_OF_MEMORY:
      return "TMLP_OUT_OF_MEMORY";
    case TMLP_INTERNAL:
      return "TMLP_INTERNAL";
  }
  return "TMLP_UNKNOWN";
}

const char* tmlp_version(void) { return tmlp::version_string.data(); }

}  // extern "C"
