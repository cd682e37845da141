// A fresh directory per test, removed with everything in it at scope end, so that
// ctest -j runs never share files.
#pragma once

#include <filesystem>
#include <string>

namespace hub::test {

class temp_dir {
 public:
  explicit temp_dir(const std::string& prefix = "hubtest");
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace hub::test
