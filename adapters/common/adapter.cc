#include "adapters/common/adapter.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "adapters/common/text.h"
#include "adapters/sdk/event.h"
#include "adapters/sdk/sdk.h"
#include "schemas/schema.h"
#include "hub/common/types.h"

namespace hub::adapters {

// ---------------------------------------------------------------------------
// Library part: import_context, picking and importing files.

std::string record_issue::to_string() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line);
  s += ": ";
  s += skipped ? "" : "warning: ";
  s += reason;
  return s;
}

import_context::import_context(std::filesystem::path file, const adapter_settings& settings,
                               sink_fn sink, issue_fn on_issue, progress_fn on_progress)
    : file_(std::move(file)),
      settings_(settings),
      sink_(std::move(sink)),
      on_issue_(std::move(on_issue)),
      on_progress_(std::move(on_progress)) {}

void import_context::record_read() { ++counts_.read; }

bool import_context::emit(std::size_t line, flatbuffers::FlatBufferBuilder& fbb,
                          const envelope_fields& f, schema::Payload type,
                          flatbuffers::Offset<void> payload) {
  auto bytes = build_envelope(fbb, f, type, payload);
  if (!bytes) {
    skip(line, bytes.error().message());
    return false;
  }
  ++counts_.emitted;
  counts_.last_record_time = std::max(counts_.last_record_time, f.occurred_at);
  if (sink_) sink_(std::move(bytes.value()));
  return true;
}

void import_context::skip(std::size_t line, std::string reason) {
  ++counts_.skipped;
  record_issue i{file_.string(), line, std::move(reason), true};
  if (on_issue_) on_issue_(i);
  issues_.push_back(std::move(i));
}

void import_context::warn(std::size_t line, std::string reason) {
  ++counts_.warnings;
  record_issue i{file_.string(), line, std::move(reason), false};
  if (on_issue_) on_issue_(i);
  issues_.push_back(std::move(i));
}

void import_context::progress(std::uint64_t done, std::uint64_t total) {
  if (on_progress_) on_progress_(done, total, counts_.read);
}

envelope_fields import_context::base_fields() const {
  envelope_fields f;
  f.source_system = settings_.source_system;
  f.entity = settings_.entity;
  f.classification = settings_.classification;
  return f;
}

std::string read_head(const std::filesystem::path& file, std::size_t max) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  std::string s(max, '\0');
  in.read(s.data(), static_cast<std::streamsize>(max));
  s.resize(static_cast<std::size_t>(in.gcount()));
  return s;
}

bool has_extension(const std::filesystem::path& file, std::initializer_list<std::string_view> exts) {
  auto name = lower(file.filename().string());
  for (auto e : exts) {
    auto le = lower(e);
    if (name.size() >= le.size() && name.compare(name.size() - le.size(), le.size(), le) == 0) return true;
  }
  return false;
}

const source* pick_source(const adapter_definition& def, const std::filesystem::path& file,
                          std::string_view kind) {
  if (!kind.empty()) {
    for (const auto& s : def.sources)
      if (s.kind == kind) return &s;
    return nullptr;
  }
  auto head = read_head(file);
  for (const auto& s : def.sources)
    if (s.claims && s.claims(file, head)) return &s;
  return nullptr;
}

namespace {
std::string kinds_of(const adapter_definition& def) {
  std::string k;
  for (const auto& s : def.sources) {
    if (!k.empty()) k += ", ";
    k += s.kind;
  }
  return k;
}
}  // namespace

file_import import_file(const adapter_definition& def, const adapter_settings& settings,
                        const std::filesystem::path& file, const import_context::sink_fn& sink,
                        std::string_view kind, const import_context::issue_fn& on_issue) {
  return import_file_with_progress(def, settings, file, sink, kind, on_issue, {});
}

file_import import_file_with_progress(const adapter_definition& def, const adapter_settings& settings,
                                      const std::filesystem::path& file,
                                      const import_context::sink_fn& sink, std::string_view kind,
                                      const import_context::issue_fn& on_issue,
                                      const import_context::progress_fn& on_progress) {
  file_import out;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    out.refused = status::not_found(file.string() + ": no such file (or not a regular file); check the path");
    return out;
  }
  const source* src = pick_source(def, file, kind);
  if (src == nullptr) {
    if (!kind.empty())
      out.refused = status::invalid_argument("--kind " + std::string(kind) + ": " + def.name +
                                             " reads only: " + kinds_of(def));
    else
      out.refused = status::invalid_argument(
          file.string() + ": not a file " + def.name + " reads (kinds: " + kinds_of(def) +
          "); check the file, or name its kind with --kind");
    return out;
  }
  out.used = src;
  import_context ctx(file, settings, sink, on_issue, on_progress);
  status s;
  try {
    s = src->read(ctx);
  } catch (const std::exception& e) {
    s = status::invalid_argument(file.string() + ": import stopped: " + e.what());
  }
  out.refused = s;
  out.counts = ctx.counts();
  out.counts.files = 1;
  out.counts.files_refused = s.is_ok() ? 0 : 1;
  out.issues = ctx.issues();
  return out;
}

void add_default_centroids(pcode_table& table) {
  auto f = default_centroid_file();
  if (!f) return;
  if (auto n = table.add_centroids(*f); !n)
    spdlog::warn("centroid table {}: {}; points are not resolved to admin areas", f->string(),
                 n.error().message());
}

adapter_settings default_settings(const adapter_definition& def) {
  static std::once_flag once;
  static std::optional<pcode_table> table;
  std::call_once(once, [] {
    if (auto f = default_pcode_file()) {
      auto t = pcode_table::load(*f);
      if (t) table = std::move(t.value());
      else spdlog::warn("P-code table {}: {}", f->string(), t.error().message());
    }
    if (table) add_default_centroids(*table);
  });
  adapter_settings s;
  s.source_system = def.name;
  s.entity = def.entity;
  s.classification = def.default_classification;
  s.pcodes = table ? &*table : nullptr;
  return s;
}

// ---------------------------------------------------------------------------
// The program.

namespace {

std::atomic<bool> stop_requested{false};
extern "C" void on_stop_signal(int) { stop_requested = true; }

using clock = std::chrono::steady_clock;

// Progress on stderr: a bar on a terminal, a plain line every few seconds otherwise.
// `records` is what the run has read so far, this file included.
class progress_display {
 public:
  enum class mode { bar, lines, none };
  progress_display(mode m, std::chrono::milliseconds line_gap) : mode_(m), line_gap_(line_gap) {}

  void update(const std::string& file, std::uint64_t done, std::uint64_t total, std::uint64_t records) {
    if (mode_ == mode::none) return;
    auto now = clock::now();
    auto gap = mode_ == mode::bar ? std::chrono::milliseconds(100) : line_gap_;
    if (now - last_ < gap) return;
    if (mode_ == mode::lines && now - started_ < line_gap_) return;
    last_ = now;
    draw(file, done, total, records);
  }
  // The file is read: a last line with the true count, when this file showed progress
  // (a short import stays quiet).
  void finish(const std::string& file, std::uint64_t records) {
    if (mode_ != mode::lines || !shown_this_file_) return;
    draw(file, 1, 1, records);
    shown_this_file_ = false;
  }
  // Ends a bar line before other output.
  void clear() {
    if (drawn_) {
      std::fprintf(stderr, "\r%80s\r", "");
      drawn_ = false;
    }
  }
  // A new file starts: the line gap counts from here.
  void start() {
    started_ = clock::now();
    shown_this_file_ = false;
  }

 private:
  void draw(const std::string& file, std::uint64_t done, std::uint64_t total, std::uint64_t records) {
    int pct = total > 0 ? static_cast<int>(std::min<std::uint64_t>(100, done * 100 / total)) : 0;
    auto name = std::filesystem::path(file).filename().string();
    if (mode_ == mode::bar) {
      constexpr int width = 30;
      int filled = pct * width / 100;
      std::fprintf(stderr, "\r%-24.24s [%s%s] %3d%% %llu records", name.c_str(),
                   std::string(static_cast<std::size_t>(filled), '#').c_str(),
                   std::string(static_cast<std::size_t>(width - filled), '.').c_str(), pct,
                   static_cast<unsigned long long>(records));
      drawn_ = true;
    } else {
      std::fprintf(stderr, "progress: %s %d%% (%llu records)\n", name.c_str(), pct,
                   static_cast<unsigned long long>(records));
      shown_this_file_ = true;
    }
    std::fflush(stderr);
  }

  mode mode_;
  std::chrono::milliseconds line_gap_;
  clock::time_point last_{};
  clock::time_point started_ = clock::now();
  bool drawn_ = false;
  bool shown_this_file_ = false;
};

struct options {
  std::vector<std::string> hubs;
  bool dry_run = false;
  std::string spool;
  std::string kind;
  std::string country;
  std::string classification;
  std::string pcodes;
  std::string encoding = "utf8";
  std::string state;
  int poll_ms = 2000;
  bool once = false;
  int heartbeat_ms = 10000;
  int flush_timeout_ms = 30000;
  std::string server_key, client_key, signing_key;
  std::string progress = "auto";
  int progress_interval_ms = 2000;
  std::vector<std::string> files;
  std::string dir;
};

std::string first_line_of(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto t = trim(line);
    if (!t.empty() && t[0] != '#') return std::string(t);
  }
  return {};
}

// Everything one run owns: settings, the publisher (or stdout), counters, heartbeats.
class runner {
 public:
  runner(const adapter_definition& def, const options& o, adapter_settings settings,
         progress_display::mode pm)
      : def_(def), opts_(o), settings_(std::move(settings)),
        progress_(pm, std::chrono::milliseconds(o.progress_interval_ms)) {
    started_at_ = now_millis();
    if (!opts_.dry_run) {
      sdk::publisher::options po;
      po.connection.endpoints = opts_.hubs;
      po.connection.client_name = def_.name;
      if (!opts_.server_key.empty()) po.connection.curve_server_public_key = first_line_of(opts_.server_key);
      if (!opts_.client_key.empty()) {
        // Either the secret key file that `hubctl keys generate BASE` writes (BASE.key,
        // with BASE.pub beside it), or one file holding the public then the secret key.
        std::filesystem::path key(opts_.client_key);
        auto pub = key;
        pub.replace_extension(".pub");
        if (key.extension() == ".key" && std::filesystem::exists(pub)) {
          po.connection.curve_client_public_key = first_line_of(pub.string());
          po.connection.curve_client_secret_key = first_line_of(key.string());
        } else {
          std::ifstream in(opts_.client_key);
          std::string l;
          std::vector<std::string> keys;
          while (std::getline(in, l)) {
            auto t = trim(l);
            if (t.empty() || t[0] == '#') continue;
            auto sp = t.find_last_of(" =");
            keys.emplace_back(trim(sp == std::string_view::npos ? t : t.substr(sp + 1)));
          }
          if (keys.size() >= 2) {
            po.connection.curve_client_public_key = keys[0];
            po.connection.curve_client_secret_key = keys[1];
          }
        }
      }
      if (!opts_.signing_key.empty()) po.signing_key_file = opts_.signing_key;
      if (!opts_.spool.empty()) po.spool_file = opts_.spool;
      // The log's end when we start: an ack with an older offset is for an event stored
      // before this run (a re-import). The SDK alone can tell that only for events it
      // published itself in this session.
      if (auto st = sdk::fetch_status(po.connection, std::chrono::milliseconds(3000))) {
        auto j = nlohmann::json::parse(*st, nullptr, false);
        if (!j.is_discarded() && j.contains("store") && j["store"].contains("end") && j["store"]["end"].is_number_unsigned())
          log_end_at_start_ = j["store"]["end"].get<std::uint64_t>();
      }
      pub_ = std::make_unique<sdk::publisher>(std::move(po));
      pub_->on_acked([this](const schema::Id128& id, std::uint64_t offset, bool dup) {
        if (heartbeat_ids_.erase(schema::id_to_hex(id)) > 0) return;
        if (log_end_at_start_ && offset < *log_end_at_start_) dup = true;
        if (dup) ++total_.duplicates;
        else ++total_.published;
      });
      pub_->on_refused([this](const schema::Id128& id, schema::Reason r, const std::string& text) {
        if (heartbeat_ids_.erase(schema::id_to_hex(id)) > 0) {
          spdlog::warn("hub refused a heartbeat: {} ({})", text, schema::reason_name(r));
          return;
        }
        ++total_.refused;
        progress_.clear();
        std::fprintf(stderr, "event %s refused by the hub: %s (%s)\n", schema::id_to_hex(id).c_str(),
                     text.c_str(), std::string(schema::reason_name(r)).c_str());
      });
    }
  }

  enum class outcome { imported, refused, not_sent };
  // Imports one file: refused when it is not what it claims, not_sent when the hub did
  // not take every event in time.
  outcome import(const std::filesystem::path& file) {
    bool send_failed = false;
    auto sink = [&](std::vector<std::uint8_t> bytes) {
      if (auto* e = schema::GetEnvelope(bytes.data()); e && e->country()) last_country_ = e->country()->str();
      if (opts_.dry_run) {
        std::string line = sdk::envelope_to_json(bytes);
        std::fwrite(line.data(), 1, line.size(), stdout);
        std::fputc('\n', stdout);
        ++total_.published;
      } else if (!pub_->publish(bytes)) {
        send_failed = true;
      }
      maybe_heartbeat(file.string());
    };
    auto on_issue = [&](const record_issue& i) {
      progress_.clear();
      std::fprintf(stderr, "%s\n", i.to_string().c_str());
    };
    const std::uint64_t records_before = total_.read;
    progress_.start();
    auto on_progress = [&](std::uint64_t done, std::uint64_t total, std::uint64_t records) {
      progress_.update(file.string(), done, total, records_before + records);
      maybe_heartbeat(file.string());
    };
    auto r = import_file_with_progress(def_, settings_, file, sink, opts_.kind, on_issue, on_progress);
    progress_.clear();
    progress_.finish(file.string(), records_before + r.counts.read);
    total_.files += 1;
    total_.read += r.counts.read;
    total_.emitted += r.counts.emitted;
    total_.skipped += r.counts.skipped;
    total_.warnings += r.counts.warnings;
    total_.last_record_time = std::max(total_.last_record_time, r.counts.last_record_time);
    if (!r.refused.is_ok()) {
      ++total_.files_refused;
      std::fprintf(stderr, "refused: %s\n", r.refused.message().c_str());
      return outcome::refused;
    }
    if (send_failed) {
      std::fprintf(stderr, "%s: the hub did not take every event in time; the file will be read again\n",
                   file.string().c_str());
      return outcome::not_sent;
    }
    return outcome::imported;
  }

  // Waits for acknowledgements; false on timeout.
  bool flush() {
    if (!pub_) return true;
    auto ok = pub_->flush(std::chrono::milliseconds(opts_.flush_timeout_ms));
    if (!ok) {
      std::fprintf(stderr,
                   "%zu events not acknowledged by the hub within %d ms%s\n", pub_->in_flight(),
                   opts_.flush_timeout_ms,
                   opts_.spool.empty() ? "; they are lost to this run: import again when the hub is back (ids are stable, nothing is doubled)"
                                       : "; they stay in the spool and go out on the next run");
    }
    return ok;
  }

  // Serves the connection (acks, heartbeats) for the whole of `wait`: the publisher's
  // poll returns early on any traffic, and watch mode's "unchanged since the last scan"
  // means nothing if scans come milliseconds apart.
  void serve(std::chrono::milliseconds wait) {
    auto until = clock::now() + wait;
    do {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now());
      if (pub_) {
        pub_->poll(std::max(left, std::chrono::milliseconds(0)));
      } else if (left.count() > 0) {
        // Dry run has nothing to serve; wait in small steps so signals are seen.
        ::usleep(static_cast<useconds_t>(std::min<std::int64_t>(left.count(), 20) * 1000));
      }
      maybe_heartbeat(source_label_);
    } while (!stop_requested && clock::now() < until);
  }

  void maybe_heartbeat(const std::string& source_name, bool force = false) {
    if (!pub_ || opts_.heartbeat_ms <= 0) return;
    auto now = clock::now();
    if (!force && now - last_heartbeat_ < std::chrono::milliseconds(opts_.heartbeat_ms)) return;
    // Filed under the run's country, else the last record's; before any record (a watch
    // on an empty folder) under "XXX", the token the hub uses for events that concern no
    // country, so that an idle adapter is still seen alive (hub.XXX.adapter_heartbeat).
    std::string country = !settings_.country.empty() ? settings_.country
                          : !last_country_.empty()    ? last_country_
                                                      : std::string(no_country);
    last_heartbeat_ = now;
    flatbuffers::FlatBufferBuilder fbb;
    auto hb = schema::CreateAdapterHeartbeat(
        fbb, fbb.CreateString(def_.name), fbb.CreateString(source_name), total_.last_record_time,
        pub_->in_flight(), total_.read, total_.published, total_.skipped, total_.duplicates,
        total_.refused + total_.files_refused, started_at_);
    envelope_fields f;
    f.source_system = def_.name;
    f.entity = schema::Entity::hub;
    f.country = country;
    f.classification = schema::Classification::internal;
    f.occurred_at = now_millis();
    f.source_record_id = def_.name + "/heartbeat";
    f.source_revision = std::to_string(f.occurred_at);
    f.id = sdk::new_event_id();
    auto bytes = build_envelope(fbb, f, schema::Payload::AdapterHeartbeat, hb.Union());
    if (!bytes) return;
    heartbeat_ids_.insert(schema::id_to_hex(*f.id));
    if (!pub_->publish(bytes.value())) heartbeat_ids_.erase(schema::id_to_hex(*f.id));
  }

  void set_source_label(std::string s) { source_label_ = std::move(s); }
  [[nodiscard]] const import_summary& totals() const { return total_; }
  [[nodiscard]] std::uint64_t in_flight() const { return pub_ ? pub_->in_flight() : 0; }

  void print_summary() const {
    std::fprintf(stderr,
                 "summary: files %llu (refused %llu), read %llu, published %llu, skipped %llu, "
                 "duplicates %llu, refused by hub %llu, warnings %llu\n",
                 static_cast<unsigned long long>(total_.files),
                 static_cast<unsigned long long>(total_.files_refused),
                 static_cast<unsigned long long>(total_.read),
                 static_cast<unsigned long long>(total_.published),
                 static_cast<unsigned long long>(total_.skipped),
                 static_cast<unsigned long long>(total_.duplicates),
                 static_cast<unsigned long long>(total_.refused),
                 static_cast<unsigned long long>(total_.warnings));
  }

 private:
  const adapter_definition& def_;
  const options& opts_;
  adapter_settings settings_;
  progress_display progress_;
  std::unique_ptr<sdk::publisher> pub_;
  import_summary total_;
  std::set<std::string> heartbeat_ids_;
  std::string last_country_;
  std::string source_label_;
  clock::time_point last_heartbeat_{};
  std::int64_t started_at_ = 0;
  std::optional<std::uint64_t> log_end_at_start_;
};

// Watch state: one line per imported file, "size mtime_ns name".
struct file_stamp {
  std::uintmax_t size = 0;
  std::int64_t mtime = 0;
  bool operator==(const file_stamp&) const = default;
};

std::map<std::string, file_stamp> load_state(const std::filesystem::path& p) {
  std::map<std::string, file_stamp> m;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    file_stamp s;
    std::string name;
    if (ls >> s.size >> s.mtime && std::getline(ls >> std::ws, name) && !name.empty()) m[name] = s;
  }
  return m;
}

bool save_state(const std::filesystem::path& p, const std::map<std::string, file_stamp>& m) {
  auto tmp = p;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return false;
    for (const auto& [name, s] : m) out << s.size << ' ' << s.mtime << ' ' << name << '\n';
    if (!out) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, p, ec);
  return !ec;
}

std::optional<file_stamp> stamp_of(const std::filesystem::path& p) {
  std::error_code ec;
  file_stamp s;
  s.size = std::filesystem::file_size(p, ec);
  if (ec) return std::nullopt;
  auto t = std::filesystem::last_write_time(p, ec);
  if (ec) return std::nullopt;
  s.mtime = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return s;
}

int run_watch(runner& run, const options& o, const adapter_definition& def) {
  std::filesystem::path dir(o.dir);
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    std::fprintf(stderr, "watch: %s is not a folder; give the folder the files arrive in\n", o.dir.c_str());
    return 2;
  }
  std::filesystem::path state = o.state.empty() ? dir / ("." + def.name + ".state") : std::filesystem::path(o.state);
  auto imported = load_state(state);
  std::map<std::string, file_stamp> seen;  // stamps at the previous scan, for stability
  run.set_source_label(dir.string());
  int rc = 0;
  std::fprintf(stderr, "watching %s (state %s, every %d ms)\n", dir.string().c_str(),
               state.string().c_str(), o.poll_ms);
  while (!stop_requested) {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      auto name = e.path().filename().string();
      if (name.empty() || name[0] == '.' || !e.is_regular_file(ec)) continue;
      if (has_extension(e.path(), {".tmp", ".part", ".swp", "~"})) continue;
      files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    bool changed_state = false;
    for (const auto& f : files) {
      if (stop_requested) break;
      auto name = f.filename().string();
      auto st = stamp_of(f);
      if (!st) continue;
      auto it = imported.find(name);
      if (it != imported.end() && it->second == *st) continue;
      // A file still being written changes between scans: wait until it is stable,
      // except in --once mode where the caller says the folder is complete.
      if (!o.once) {
        auto prev = seen.find(name);
        bool stable = prev != seen.end() && prev->second == *st;
        seen[name] = *st;
        if (!stable) {
          std::fprintf(stderr, "waiting for %s: new or changed since the last scan; read once it stays the same for a scan\n",
                       f.string().c_str());
          continue;
        }
      }
      std::fprintf(stderr, "importing %s\n", f.string().c_str());
      const import_summary before = run.totals();
      auto got = run.import(f);
      bool acked = run.flush();
      // What this file did, so that a long-running watch says it as it goes (the
      // summary comes only when it stops).
      const import_summary& after = run.totals();
      std::fprintf(stderr, "imported %s: read %llu, published %llu, skipped %llu, duplicates %llu\n",
                   f.string().c_str(), static_cast<unsigned long long>(after.read - before.read),
                   static_cast<unsigned long long>(after.published - before.published),
                   static_cast<unsigned long long>(after.skipped - before.skipped),
                   static_cast<unsigned long long>(after.duplicates - before.duplicates));
      if (got == runner::outcome::refused) rc = 1;
      if (acked && got != runner::outcome::not_sent) {
        // Refused files are remembered too, so they are not refused again every scan;
        // they are read again once they change.
        imported[name] = *st;
        changed_state = true;
      } else {
        rc = 3;
      }
    }
    // A dry run publishes nothing, so it must not mark files as imported.
    if (changed_state && !o.dry_run && !save_state(state, imported))
      std::fprintf(stderr, "watch: cannot write the state file %s; files may be read again after a restart\n",
                   state.string().c_str());
    if (o.once) break;
    run.serve(std::chrono::milliseconds(o.poll_ms));
  }
  return rc;
}

}  // namespace

int run_adapter(int argc, char** argv, const adapter_definition& def) {
  options o;
  CLI::App app{def.description, def.name};
  app.require_subcommand(1);
  app.add_option("--hub", o.hubs, "hub endpoint, e.g. tcp://127.0.0.1:7460 (repeatable)");
  app.add_flag("--dry-run", o.dry_run, "print events as JSON lines on stdout instead of publishing");
  app.add_option("--spool", o.spool, "store-and-forward file: events wait here while the hub is away");
  app.add_option("--kind", o.kind, "read files as this kind instead of guessing");
  app.add_option("--country", o.country, "ISO 3166-1 alpha-3 country for records that name none");
  app.add_option("--classification", o.classification,
                 "public, internal, confidential or strictly_confidential (overrides the default)");
  app.add_option("--pcodes", o.pcodes, "P-code table (CSV: Location, Admin Level, P-Code, Name, Parent P-Code)");
  app.add_option("--encoding", o.encoding, "utf8 (refuse other bytes) or latin1 (convert)")
      ->check(CLI::IsMember({"utf8", "latin1"}));
  app.add_option("--heartbeat-interval", o.heartbeat_ms, "ms between AdapterHeartbeat events (0: none)")
      ->check(CLI::Range(0, 3600000));
  app.add_option("--flush-timeout", o.flush_timeout_ms, "ms to wait for the hub's acknowledgements")
      ->check(CLI::Range(100, 3600000));
  app.add_option("--server-key", o.server_key, "file with the hub's CURVE public key (Z85)");
  app.add_option("--client-key", o.client_key,
                 "this adapter's CURVE secret key file (BASE.key from hubctl keys generate, BASE.pub beside it)");
  app.add_option("--signing-key", o.signing_key,
                 "this adapter's Ed25519 secret key file (BASE.sign.key): every event is signed");
  app.add_option("--progress", o.progress, "auto, bar, lines or none")
      ->check(CLI::IsMember({"auto", "bar", "lines", "none"}));
  app.add_option("--progress-interval", o.progress_interval_ms, "ms between progress lines (lines mode)")
      ->check(CLI::Range(0, 3600000));
  std::string kinds;
  for (const auto& s : def.sources) kinds += "  " + s.kind + ": " + s.description + "\n";
  app.footer("File kinds:\n" + kinds +
             "Exit codes: 0 ok, 1 a file refused, 2 bad command line, 3 events not acknowledged.");
  auto* imp = app.add_subcommand("import", "import files once, then print a summary");
  imp->add_option("files", o.files, "files to import, in order")->required();
  auto* watch = app.add_subcommand("watch", "import new or changed files of a folder until stopped");
  watch->add_option("dir", o.dir, "the folder to watch")->required();
  watch->add_option("--state", o.state, "file remembering what was imported (default DIR/.NAME.state)");
  watch->add_option("--poll-interval", o.poll_ms, "ms between scans")->check(CLI::Range(50, 60000));
  watch->add_flag("--once", o.once, "scan once, import what is new, and exit");
  imp->fallthrough();
  watch->fallthrough();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  if (o.hubs.empty() && !o.dry_run) {
    std::fprintf(stderr, "%s: give --hub ENDPOINT (e.g. tcp://127.0.0.1:7460), or --dry-run to print events\n",
                 def.name.c_str());
    return 2;
  }
  if (!o.kind.empty() && std::none_of(def.sources.begin(), def.sources.end(),
                                      [&](const source& s) { return s.kind == o.kind; })) {
    std::fprintf(stderr, "--kind %s: %s reads only: %s\n", o.kind.c_str(), def.name.c_str(),
                 kinds_of(def).c_str());
    return 2;
  }
  adapter_settings settings = default_settings(def);
  if (!o.country.empty()) {
    auto c = country_from_text(o.country);
    if (!c) {
      std::fprintf(stderr, "--country %s: not an ISO 3166-1 country code or name\n", o.country.c_str());
      return 2;
    }
    settings.country = *c;
  }
  if (!o.classification.empty()) {
    auto c = classification_from_text(o.classification);
    if (!c) {
      std::fprintf(stderr, "--classification %s: use public, internal, confidential or strictly_confidential\n",
                   o.classification.c_str());
      return 2;
    }
    settings.classification = *c;
    settings.classification_forced = true;
  }
  std::optional<pcode_table> own_table;
  if (!o.pcodes.empty()) {
    auto t = pcode_table::load(o.pcodes);
    if (!t) {
      std::fprintf(stderr, "--pcodes: %s\n", t.error().message().c_str());
      return 2;
    }
    own_table = std::move(t.value());
    if (!own_table->has_coordinates()) add_default_centroids(*own_table);
    settings.pcodes = &*own_table;
  }
  if (settings.pcodes == nullptr)
    spdlog::warn("no P-code table (set --pcodes or HUB_PCODES): admin areas are kept as given, unresolved");
  settings.csv.encoding = o.encoding == "latin1" ? encoding_policy::convert_latin1 : encoding_policy::refuse;

  auto pm = progress_display::mode::lines;
  if (o.progress == "bar" || (o.progress == "auto" && ::isatty(STDERR_FILENO))) pm = progress_display::mode::bar;
  if (o.progress == "none") pm = progress_display::mode::none;

  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);

  int rc = 0;
  try {
    runner run(def, o, settings, pm);
    if (imp->parsed()) {
      run.set_source_label(o.files.size() == 1 ? o.files[0] : std::to_string(o.files.size()) + " files");
      for (const auto& f : o.files) {
        if (stop_requested) break;
        auto got = run.import(f);
        if (got == runner::outcome::refused) rc = 1;
        if (got == runner::outcome::not_sent) rc = 3;
      }
      run.maybe_heartbeat(run.totals().files == 1 ? o.files[0] : "import", true);
      if (!run.flush()) rc = 3;
    } else {
      rc = run_watch(run, o, def);
      run.maybe_heartbeat(o.dir, true);
      if (!run.flush()) rc = 3;
    }
    if (run.totals().refused > 0 && rc == 0) rc = 3;
    run.print_summary();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", def.name.c_str(), e.what());
    return 2;
  }
  return rc;
}

}  // namespace hub::adapters
