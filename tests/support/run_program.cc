#include "tests/support/run_program.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace hub::test {
namespace {

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

program_result run_program(const std::string& program, const std::vector<std::string>& args) {
  // stderr goes to a file of our own, read back once the program ended.
  std::string err_path = (std::filesystem::temp_directory_path() / "hub-test-stderr.XXXXXX").string();
  int fd = ::mkstemp(err_path.data());
  if (fd < 0) throw std::runtime_error("run_program: cannot create a file for stderr in " + err_path);
  ::close(fd);
  std::string cmd = "timeout 60 " + quote(program);
  for (const auto& a : args) cmd += " " + quote(a);
  cmd += " 2>" + quote(err_path) + " </dev/null";
  program_result r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) throw std::runtime_error("run_program: cannot start " + program);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream in(err_path);
  std::stringstream ss;
  ss << in.rdbuf();
  r.err = ss.str();
  std::filesystem::remove(err_path);
  return r;
}

}  // namespace hub::test
