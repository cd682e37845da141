// Runs a program a test drives as a user would (hubctl, most often): through /bin/sh
// with a 60 s limit (timeout(1)), stdin from /dev/null, stdout and stderr captured
// separately.
#pragma once

#include <string>
#include <vector>

namespace hub::test {

struct program_result {
  int exit_code = -1;  // its exit status; -1 if it did not exit normally
  std::string out;     // stdout
  std::string err;     // stderr
};

program_result run_program(const std::string& program, const std::vector<std::string>& args);

}  // namespace hub::test
