// What the fuzz targets share: the input as a string, split into fields, and a private scratch
// directory for the parsers that read files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace rds::fuzz {

inline std::string text_of(const uint8_t* data, size_t size) {
  return std::string{reinterpret_cast<const char*>(data), size};
}

/// The input cut at every `separator` byte (argv-like seeds use '\0').
inline std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t at = text.find(separator); at != std::string::npos;
       at = text.find(separator, start)) {
    parts.push_back(text.substr(start, at - start));
    start = at + 1;
  }
  parts.push_back(text.substr(start));
  return parts;
}

/// A directory of this process's own (in /dev/shm when there is one: the file-reading targets
/// write every input), removed at exit; one per process, so `-jobs` runs do not share it.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::error_code ec;
    auto base = std::filesystem::is_directory("/dev/shm", ec)
                  ? std::filesystem::path{"/dev/shm"}
                  : std::filesystem::temp_directory_path();
    std::string pattern = (base / "rds-csi-fuzz-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      std::abort();
    std::atexit([] { std::filesystem::remove_all(scratch_dir()); });
    return std::filesystem::path{pattern};
  }();
  return dir;
}

inline void write_file(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
}

} // namespace rds::fuzz
