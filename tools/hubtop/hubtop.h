// hubctl top and hubctl status: read a hub's /api/status over HTTP and show it.
//
// A client like any adapter: it depends on the status JSON documented in docs/ops.md,
// never on hub internals. All functions run on the caller's thread.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace hub::hubtop {

struct top_options {
  int refresh_ms = 1000;  // time between two fetches
  int max_frames = 0;     // stop after this many frames; 0: until q or Ctrl-C
  bool plain = false;     // one plain frame even on a terminal (as when piped)
};

// GET http://<address>/api/status. `address` is "host:port" or a full URL
// ("http://host:port", "https://..."). On failure `error` says what and where.
struct fetch_result {
  std::optional<nlohmann::json> status;
  std::string error;
};
[[nodiscard]] fetch_result fetch_status(const std::string& address, int timeout_ms = 3000);

// The live view. On a terminal (stdin and stdout both ttys): a full-screen view redrawn
// every refresh_ms until q, Q or Ctrl-C, which restores the terminal; an unreachable
// hub is shown in the view and retried. Otherwise one plain frame on stdout. Returns
// 0, or 1 when not on a terminal and the hub could not be read (the reason on stderr).
int run_top(const std::string& http_address, const top_options& options = {});

// hubctl status: one snapshot, as a readable summary or (json) the document itself.
// Returns 0, or 1 when the hub could not be read (the reason on `err`).
int run_status(const std::string& http_address, bool json, std::ostream& out, std::ostream& err);

// One frame of the view, `width` columns wide, with ANSI colours when `color`.
// Pure: what run_top draws, for tests and for run_status.
[[nodiscard]] std::string render_top(const nlohmann::json& status, int width, bool color);

}  // namespace hub::hubtop
