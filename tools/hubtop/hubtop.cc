#include "tools/hubtop/hubtop.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <sstream>
#include <vector>

#include <httplib.h>

namespace hub::hubtop {

using nlohmann::json;

namespace {

// ---- formatting -------------------------------------------------------------------

std::string with_commas(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::uint64_t u64(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return 0;
  if (it->is_number_unsigned()) return it->get<std::uint64_t>();
  if (it->is_number_integer()) return static_cast<std::uint64_t>(std::max<std::int64_t>(0, it->get<std::int64_t>()));
  return static_cast<std::uint64_t>(std::max(0.0, it->get<double>()));
}

std::int64_t i64(const json& j, const char* key, std::int64_t fallback = 0) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return fallback;
  return it->is_number_float() ? static_cast<std::int64_t>(it->get<double>()) : it->get<std::int64_t>();
}

double f64(const json& j, const char* key) {
  auto it = j.find(key);
  return (it == j.end() || !it->is_number()) ? 0.0 : it->get<double>();
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return (it == j.end() || !it->is_string()) ? std::string() : it->get<std::string>();
}

const json& sub(const json& j, const char* key) {
  static const json empty = json::object();
  auto it = j.find(key);
  return (it == j.end()) ? empty : *it;
}

std::string rate(double r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, r < 100 ? "%.1f/s" : "%.0f/s", r);
  return buf;
}

std::string bytes(std::uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int i = 0;
  while (v >= 1024 && i < 4) {
    v /= 1024;
    ++i;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, i == 0 ? "%.0f %s" : "%.1f %s", v, units[i]);
  return buf;
}

std::string age(std::int64_t ms) {
  if (ms < 0) return "never";
  double s = static_cast<double>(ms) / 1000.0;
  char buf[32];
  if (s < 10) std::snprintf(buf, sizeof buf, "%.1f s ago", s);
  else if (s < 60) std::snprintf(buf, sizeof buf, "%.0f s ago", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%.0f min ago", std::floor(s / 60));
  else if (s < 86400) std::snprintf(buf, sizeof buf, "%.0f h ago", std::floor(s / 3600));
  else std::snprintf(buf, sizeof buf, "%.0f d ago", std::floor(s / 86400));
  return buf;
}

std::string duration(double secs) {
  auto s = static_cast<std::int64_t>(secs);
  char buf[48];
  if (s >= 86400) std::snprintf(buf, sizeof buf, "%lldd %lldh", static_cast<long long>(s / 86400), static_cast<long long>(s % 86400 / 3600));
  else if (s >= 3600) std::snprintf(buf, sizeof buf, "%lldh %lldm", static_cast<long long>(s / 3600), static_cast<long long>(s % 3600 / 60));
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%lldm %llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  else std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  return buf;
}

// Heartbeats come every 10 s or so: 30 s quiet is worth a look, 2 min a problem.
enum class health { ok, warn, bad, none };
health age_health(std::int64_t ms) {
  if (ms < 0) return health::bad;
  if (ms <= 30'000) return health::ok;
  if (ms <= 120'000) return health::warn;
  return health::bad;
}

// ---- one frame: lines of cells, truncated on visible width, coloured after --------

struct painter {
  int width;
  bool color;
  std::string out;

  static const char* code(health h) {
    switch (h) {
      case health::ok: return "\x1b[32m";
      case health::warn: return "\x1b[33m";
      case health::bad: return "\x1b[31m";
      case health::none: return "";
    }
    return "";
  }
  // Visible width counts UTF-8 code points (names may be non-ASCII).
  static std::size_t visible(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  }
  static std::string cut(const std::string& s, std::size_t cols) {
    std::size_t n = 0, i = 0;
    for (; i < s.size(); ++i) {
      if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
        if (n == cols) break;
        ++n;
      }
    }
    return s.substr(0, i);
  }
  // A line; `marks` colour whole cells: pairs of (text, health).
  void line(const std::vector<std::pair<std::string, health>>& cells = {}) {
    std::size_t room = width > 0 ? static_cast<std::size_t>(width) : 10'000;
    for (const auto& [text, h] : cells) {
      if (room == 0) break;
      std::string t = visible(text) > room ? cut(text, room) : text;
      room -= visible(t);
      if (color && h != health::none) out += std::string(code(h)) + t + "\x1b[0m";
      else out += t;
    }
    out += '\n';
  }
  void plain(const std::string& text) { line({{text, health::none}}); }
  void heading(const std::string& text) {
    if (color) {
      out += "\x1b[1m";
      std::size_t room = width > 0 ? static_cast<std::size_t>(width) : 10'000;
      out += visible(text) > room ? cut(text, room) : text;
      out += "\x1b[0m\n";
    } else {
      plain(text);
    }
  }
};

std::string pad(const std::string& s, std::size_t n, bool right = false) {
  std::size_t v = painter::visible(s);
  if (v >= n) return painter::cut(s, n > 1 ? n - 1 : n) + (n > 1 ? " " : "");
  std::string fill(n - v, ' ');
  return right ? fill + s : s + fill;
}

}  // namespace

std::string render_top(const json& s, int width, bool color) {
  painter p{width, color, {}};
  const json& store = sub(s, "store");
  const json& counters = sub(s, "counters");
  const json& rates = sub(s, "rates");
  bool writable = !(store.contains("writable") && store["writable"].is_boolean() && !store["writable"].get<bool>());

  std::time_t now = std::time(nullptr);
  char clock[16];
  std::strftime(clock, sizeof clock, "%H:%M:%S", std::localtime(&now));
  p.line({{"Integration Hub  hub " + str(s, "hub_id") + "  v" + str(s, "version") + "  up " + duration(f64(s, "uptime_s")) +
               "  store " + str(store, "kind") + " ",
           health::none},
          {writable ? "writable" : "NOT WRITABLE", writable ? health::ok : health::bad},
          {std::string("  ") + clock, health::none}});
  if (!writable && !str(store, "last_error").empty()) p.line({{"  " + str(store, "last_error"), health::bad}});

  std::uint64_t naks = 0;
  if (auto it = counters.find("naks"); it != counters.end() && it->is_object())
    for (const auto& [k, v] : it->items()) naks += v.is_number_unsigned() ? v.get<std::uint64_t>() : 0;
  // The client socket's STATUS has no rates (the ops module computes them): say so
  // rather than show a hub at rest.
  auto rate_of = [&](const char* key) {
    auto it = rates.find(key);
    return it != rates.end() && it->is_number() ? rate(it->get<double>()) : std::string("n/a");
  };
  p.line({{"events in " + rate_of("events_in_per_s") + "  out " + rate_of("events_out_per_s") +
               "   stored " + with_commas(u64(counters, "events_in")) + "  delivered " +
               with_commas(u64(counters, "events_out")) + "  duplicates " + with_commas(u64(counters, "duplicates")) +
               "  ",
           health::none},
          {"refused " + with_commas(naks), naks ? health::warn : health::none}});
  p.plain("log   records " + with_commas(u64(store, "records")) + "  " + bytes(u64(store, "bytes")) + "  segments " +
          with_commas(u64(store, "segments")) + "  offsets " + with_commas(u64(store, "begin")) + "…" +
          with_commas(u64(store, "end")) + "  durable to " + with_commas(u64(store, "durable_end")));
  p.plain("");

  const json& adapters = sub(s, "adapters");
  p.heading(pad("ADAPTERS", 26) + pad("HEARTBEAT", 14) + pad("BACKLOG", 10, true) + pad("PUBLISHED", 12, true) +
            pad("SKIPPED", 10, true) + pad("ERRORS", 9, true));
  if (!adapters.is_array() || adapters.empty()) p.plain("  (no adapter has sent a heartbeat)");
  else
    for (const auto& a : adapters) {
      auto h = age_health(i64(a, "last_heartbeat_ms_ago", -1));
      std::uint64_t errors = u64(a, "errors");
      p.line({{"● ", h},
              {pad(str(a, "adapter"), 24), health::none},
              {pad(age(i64(a, "last_heartbeat_ms_ago", -1)), 14), h},
              {pad(with_commas(u64(a, "backlog")), 10, true) + pad(with_commas(u64(a, "published")), 12, true) +
                   pad(with_commas(u64(a, "skipped")), 10, true),
               health::none},
              {pad(with_commas(errors), 9, true), errors ? health::bad : health::none}});
    }
  p.plain("");

  const json& clients = sub(s, "clients");
  p.heading(pad("CLIENTS", 26) + pad("ROLE", 12) + pad("LAST SEEN", 14) + pad("IN FLIGHT", 10, true));
  if (!clients.is_array() || clients.empty()) p.plain("  (no client connected)");
  else
    for (const auto& c : clients) {
      std::string name = str(c, "name").empty() ? str(c, "identity") : str(c, "name");
      p.plain("  " + pad(name, 24) + pad(str(c, "role"), 12) + pad(age(i64(c, "last_seen_ms_ago", -1)), 14) +
              pad(with_commas(u64(c, "in_flight")), 10, true));
    }
  p.plain("");

  const json& subs = sub(s, "subscriptions");
  p.heading(pad("SUBSCRIPTIONS", 22) + pad("PATTERN", 26) + pad("NEXT", 10, true) + pad("CREDIT", 8, true) +
            pad("LAG", 10, true) + "  DURABLE");
  if (!subs.is_array() || subs.empty()) p.plain("  (no subscription)");
  else
    for (const auto& x : subs) {
      std::uint64_t lag = u64(x, "lag");
      p.line({{"  " + pad(str(x, "client"), 20) + pad(str(x, "pattern"), 26) + pad(with_commas(u64(x, "next")), 10, true) +
                   pad(with_commas(u64(x, "credit")), 8, true),
               health::none},
              {pad(with_commas(lag), 10, true), lag > 1000 ? health::warn : health::none},
              {"  " + str(x, "durable"), health::none}});
    }
  p.plain("");

  const json& alerts = sub(s, "alerts");
  const json& by = sub(alerts, "by_country_severity");
  std::size_t firing = alerts.contains("firing") && alerts["firing"].is_array() ? alerts["firing"].size() : 0;
  p.heading(pad("ALERTS FIRING (" + std::to_string(firing) + ")", 26) + pad("CRITICAL", 10, true) +
            pad("WARNING", 10, true) + pad("INFO", 8, true));
  if (!by.is_object() || by.empty()) p.plain("  (none)");
  else
    for (const auto& [country, sev] : by.items()) {
      std::uint64_t c = u64(sev, "critical"), w = u64(sev, "warning"), i = u64(sev, "info");
      p.line({{"  " + pad(country, 24), health::none},
              {pad(with_commas(c), 10, true), c ? health::bad : health::none},
              {pad(with_commas(w), 10, true), w ? health::warn : health::none},
              {pad(with_commas(i), 8, true), health::none}});
    }
  return p.out;
}

fetch_result fetch_status(const std::string& address, int timeout_ms) {
  fetch_result r;
  std::string url = address.find("://") == std::string::npos ? "http://" + address : address;
  httplib::Client client(url);
  if (!client.is_valid()) {
    r.error = "\"" + address + "\" is not an HTTP address; give host:port of the hub's http setting, e.g. 127.0.0.1:7470";
    return r;
  }
  auto t = std::chrono::milliseconds(timeout_ms);
  client.set_connection_timeout(t);
  client.set_read_timeout(t);
  auto res = client.Get("/api/status");
  if (!res) {
    r.error = "cannot reach the hub at " + url + " (" + httplib::to_string(res.error()) +
              "); is hubd running with --http " + address + "?";
    return r;
  }
  if (res->status != 200) {
    r.error = url + "/api/status answered HTTP " + std::to_string(res->status) + ": " + res->body;
    return r;
  }
  json j = json::parse(res->body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    r.error = url + "/api/status did not return a JSON object; is this a hub's HTTP endpoint?";
    return r;
  }
  r.status = std::move(j);
  return r;
}

int run_status(const std::string& http_address, bool as_json, std::ostream& out, std::ostream& err) {
  auto r = fetch_status(http_address);
  if (!r.status) {
    err << "hubctl status: " << r.error << "\n";
    return 1;
  }
  if (as_json) out << r.status->dump(2) << "\n";
  else out << render_top(*r.status, 0, false);
  return 0;
}

namespace {

std::atomic<bool> interrupted{false};
extern "C" void on_interrupt(int) { interrupted.store(true); }

int terminal_width() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 100;
}

void write_all(const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::write(STDOUT_FILENO, s.data() + done, s.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

// Puts the terminal in a mode where keys arrive one at a time without echo, and
// restores it (and the screen) when it goes away.
class raw_terminal {
 public:
  raw_terminal() {
    if (::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));  // ISIG stays: Ctrl-C still works
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    ok_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    write_all("\x1b[?1049h\x1b[?25l");  // alternate screen, hide cursor
  }
  ~raw_terminal() {
    write_all("\x1b[?25h\x1b[?1049l");
    if (ok_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  raw_terminal(const raw_terminal&) = delete;
  raw_terminal& operator=(const raw_terminal&) = delete;

 private:
  termios saved_{};
  bool ok_ = false;
};

}  // namespace

int run_top(const std::string& http_address, const top_options& options) {
  bool tty = ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO) && !options.plain;
  if (!tty) {
    auto r = fetch_status(http_address);
    if (!r.status) {
      std::cerr << "hubctl top: " << r.error << "\n";
      return 1;
    }
    std::cout << render_top(*r.status, 0, false) << std::flush;
    return 0;
  }

  interrupted.store(false);
  struct sigaction sa{}, old_int{}, old_term{};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, &old_int);
  ::sigaction(SIGTERM, &sa, &old_term);
  {
    raw_terminal term;
    int frames = 0;
    std::string last_good;
    while (!interrupted.load()) {
      int width = terminal_width();
      auto r = fetch_status(http_address, std::min(options.refresh_ms, 3000));
      std::string frame;
      if (r.status) {
        last_good = render_top(*r.status, width, true);
        frame = last_good;
      } else {
        frame = "\x1b[31m" + r.error.substr(0, static_cast<std::size_t>(width)) + "\x1b[0m\nretrying every second…\n\n" +
                last_good;
      }
      std::string help = "\x1b[2mq quits · refresh every " + std::to_string(options.refresh_ms) + " ms\x1b[0m\n";
      // Home, draw, clear what is left of an older, longer frame.
      std::string out = "\x1b[H";
      std::istringstream lines(frame + help);
      for (std::string l; std::getline(lines, l);) out += l + "\x1b[K\r\n";
      out += "\x1b[J";
      write_all(out);
      if (options.max_frames > 0 && ++frames >= options.max_frames) break;

      // Wait for a key or the next refresh.
      auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(options.refresh_ms);
      bool quit = false;
      while (!quit && !interrupted.load()) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd pfd{STDIN_FILENO, POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(left.count())) > 0 && (pfd.revents & POLLIN)) {
          char c = 0;
          if (::read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q' || c == 3)) quit = true;
        }
      }
      if (quit) break;
    }
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  return 0;
}

}  // namespace hub::hubtop
