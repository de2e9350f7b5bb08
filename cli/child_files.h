// What the commands that run kpsim as child processes share (sweep's cells, docgen's run
// blocks): this executable's path, and a temporary directory for the children's outputs.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace kpsim::cli {

inline std::string self_exe() {
  std::error_code ec;
  const auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("cannot find kpsim's own executable (/proc/self/exe): " + ec.message());
  return p.string();
}

// A fresh directory under the system's temporary directory ("kpsim-NAME-XXXXXX"), removed with
// everything in it when this goes out of scope.
class TempDir {
 public:
  explicit TempDir(const std::string& name) {
    std::string t = (std::filesystem::temp_directory_path() / ("kpsim-" + name + "-XXXXXX")).string();
    if (!mkdtemp(t.data())) throw std::runtime_error("cannot create a temporary directory " + t);
    path = t;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path;
};

}  // namespace kpsim::cli
