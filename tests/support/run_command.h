// Runs a program (no shell) with stdin from a file or /dev/null, stdout and stderr
// captured, bounded in time; the child is ended by its pid when the deadline passes.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace hub::test {

struct command_result {
  int exit_code = -1;  // the exit status, or -1 if it did not exit in time or did not start
  std::string output;  // stdout and stderr, interleaved
};

command_result run_command(const std::vector<std::string>& argv, const std::filesystem::path& work_dir,
                           const std::filesystem::path& stdin_file = {},
                           std::chrono::milliseconds deadline = std::chrono::seconds(60));

// True if `program` is found on PATH.
bool have_program(const std::string& program);

}  // namespace hub::test
