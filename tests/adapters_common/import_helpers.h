// Helpers for adapter tests: import a file through an adapter definition and read the
// envelopes it produced; run an adapter program and read its output.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "adapters/common/adapter.h"
#include "adapters/common/text.h"
#include "schemas/schema.h"
#include "schemas/events_generated.h"
#include "tests/support/temp_dir.h"

namespace hub::test {

struct imported {
  adapters::file_import result;
  std::vector<std::vector<std::uint8_t>> events;

  [[nodiscard]] const schema::Envelope* event(std::size_t i) const {
    return schema::GetEnvelope(events.at(i).data());
  }
  // Issues as "line: reason" strings, for matching in assertions.
  [[nodiscard]] std::string issues_text() const {
    std::string s;
    for (const auto& i : result.issues) s += i.to_string() + "\n";
    return s;
  }
  [[nodiscard]] std::size_t issues_on_line(std::size_t line) const {
    std::size_t n = 0;
    for (const auto& i : result.issues) n += i.line == line ? 1 : 0;
    return n;
  }
};

inline imported import_with(const adapters::adapter_definition& def, const std::filesystem::path& file,
                            adapters::adapter_settings settings, std::string_view kind = {}) {
  imported out;
  out.result = adapters::import_file(def, settings, file,
                                     [&](std::vector<std::uint8_t> b) { out.events.push_back(std::move(b)); }, kind);
  return out;
}

inline imported import_default(const adapters::adapter_definition& def, const std::filesystem::path& file) {
  return import_with(def, file, adapters::default_settings(def));
}

inline std::string str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

inline std::filesystem::path fixture(const std::string& rel) {
  return std::filesystem::path(HUB_FIXTURES_DIR) / rel;
}

inline void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a program through the shell with stdout and stderr to files in `dir`; returns
// its exit code (or -1 if it did not exit normally).
struct program_run {
  int exit_code = -1;
  std::string out, err;
};
inline program_run run_program(const std::string& command, const std::filesystem::path& dir,
                               const std::string& tag) {
  auto out = dir / (tag + ".out"), err = dir / (tag + ".err");
  std::string cmd = command + " >'" + out.string() + "' 2>'" + err.string() + "'";
  int rc = std::system(cmd.c_str());
  program_run r;
  if (rc != -1 && WIFEXITED(rc)) r.exit_code = WEXITSTATUS(rc);
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

// The number after "<name> " in an adapter's summary line ("published 274"), or -1.
inline long summary_count(const std::string& err, const std::string& name) {
  auto s = err.rfind("summary:");
  if (s == std::string::npos) return -1;
  auto p = err.find(" " + name + " ", s);
  if (p == std::string::npos) return -1;
  return std::strtol(err.c_str() + p + name.size() + 2, nullptr, 10);
}

}  // namespace hub::test
