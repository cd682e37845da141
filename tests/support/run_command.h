// Runs a program (no shell) with stdin from a file or /dev/null, stdout and stderr
// captured, bounded in time; the child is ended by its pid when the deadline passes.
// run_command interleaves stdout and stderr as a terminal would; run_program, for the
// command-line tools a test drives as a user would (hubctl), keeps them apart.
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

struct program_result {
  int exit_code = -1;  // the exit status, or -1 if it did not exit in time or did not start
  std::string out;     // stdout
  std::string err;     // stderr
};

// `program` with `args`, stdin from /dev/null, 60 s at most; scratch files in the
// system's temp directory.
program_result run_program(const std::string& program, const std::vector<std::string>& args);

// True if `program` is found on PATH.
bool have_program(const std::string& program);

}  // namespace hub::test
