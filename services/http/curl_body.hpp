// The libcurl write callback every HTTP client here uses: append the body to a std::string.
#pragma once

#include <cstddef>
#include <string>

namespace rds::services::http {

/// For CURLOPT_WRITEFUNCTION, with a std::string* as CURLOPT_WRITEDATA.
inline size_t append_to_string(char* data, size_t size, size_t count, void* target) {
  static_cast<std::string*>(target)->append(data, size * count);
  return size * count;
}

} // namespace rds::services::http
