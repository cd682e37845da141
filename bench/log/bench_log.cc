// Measures the event log as the hub uses it: batches of ~300-byte events appended by
// one thread while a sync thread makes them durable (group commit), for each fsync
// policy; then the resident memory after appending many events (10 million by
// default) and the time to reopen that log. Prints a table and one JSON object.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "hub/log/log.h"

namespace {

using clock_type = std::chrono::steady_clock;

long status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(key.size()));
  return -1;
}

// A reusable batch: the bytes are made once, ids change per batch.
struct batch_maker {
  std::string topic = "peacekeeping.SSD.mandate_activity";
  std::vector<std::vector<std::uint8_t>> envelopes;
  std::vector<hub::store::append_record> records;
  batch_maker(std::size_t batch, std::size_t bytes) : envelopes(batch, std::vector<std::uint8_t>(bytes)), records(batch) {
    for (std::size_t i = 0; i < batch; ++i)
      for (std::size_t j = 0; j < bytes; ++j) envelopes[i][j] = static_cast<std::uint8_t>((i * 131 + j * 7) & 0xFF);
  }
  std::span<const hub::store::append_record> next(std::uint64_t first, std::size_t n) {
    const hub::millis now = hub::now_millis();
    for (std::size_t i = 0; i < n; ++i)
      records[i] = {now, hub::schema::Id128(static_cast<std::uint64_t>(now), first + i), topic, envelopes[i]};
    return {records.data(), n};
  }
};

struct run_result {
  std::string policy;
  std::uint64_t events = 0;
  double seconds = 0;
  double events_per_s = 0;
  double mb_per_s = 0;
};

// Appends `events` in batches while a sync thread syncs whenever the log asks, as the
// hub does; the clock stops when the last event is durable.
run_result run(const std::filesystem::path& dir, hub::log::fsync_policy policy, std::uint64_t events,
               std::size_t batch, std::size_t bytes) {
  std::filesystem::remove_all(dir);
  hub::log::log_options o;
  o.fsync = policy;
  auto opened = hub::log::open_log(dir, o);
  if (!opened) throw std::runtime_error(opened.error().message());
  auto& log = *opened.value();
  batch_maker maker(batch, bytes);
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  std::string sync_error;
  std::thread syncer([&] {
    while (!stop.load()) {
      if (log.needs_sync()) {
        if (auto s = log.sync(); !s) {
          sync_error = s.message();
          failed = true;
          return;
        }
      } else {
        std::this_thread::yield();
      }
    }
  });
  auto t0 = clock_type::now();
  for (std::uint64_t done = 0; done < events;) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(batch, events - done));
    if (auto s = log.append(maker.next(done, n)); !s) throw std::runtime_error(s.message());
    done += n;
  }
  while (log.durable_end().value < events && !failed.load()) std::this_thread::yield();
  double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  stop = true;
  syncer.join();
  if (failed.load()) throw std::runtime_error(sync_error);
  run_result r;
  r.policy = hub::log::fsync_policy_name(policy);
  r.events = events;
  r.seconds = secs;
  r.events_per_s = static_cast<double>(events) / secs;
  r.mb_per_s = static_cast<double>(log.stats().bytes) / secs / 1e6;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_log: event log append throughput per fsync policy and memory with many events"};
  std::uint64_t events = 10'000'000;
  std::uint64_t policy_events = 300'000;
  std::size_t batch = 100;
  std::size_t bytes = 300;
  std::string dir_arg;
  bool keep = false;
  app.add_option("--events", events, "events appended for the memory measurement (default 10 million)");
  app.add_option("--policy-events", policy_events, "events appended per fsync policy for throughput");
  app.add_option("--batch", batch, "events per append (a batch of PUBs)")->check(CLI::Range(1, 100000));
  app.add_option("--bytes", bytes, "envelope bytes per event")->check(CLI::Range(1, 1 << 20));
  app.add_option("--dir", dir_arg, "where to write (default: a fresh directory under the temp dir)");
  app.add_flag("--keep", keep, "keep the data written");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  std::filesystem::path root = dir_arg.empty()
                                   ? std::filesystem::temp_directory_path() / ("bench_log-" + std::to_string(::getpid()))
                                   : std::filesystem::path(dir_arg);
  nlohmann::json out;
  out["batch"] = batch;
  out["envelope_bytes"] = bytes;
  try {
    std::vector<run_result> results;
    for (auto p : {hub::log::fsync_policy::batch, hub::log::fsync_policy::interval, hub::log::fsync_policy::never})
      results.push_back(run(root / hub::log::fsync_policy_name(p), p, policy_events, batch, bytes));

    // Memory with many retained events: append them all, then read VmHWM.
    const auto mem_dir = root / "memory";
    auto mem = run(mem_dir, hub::log::fsync_policy::never, events, batch, bytes);
    long hwm_kib = status_kib("VmHWM");
    auto t0 = clock_type::now();
    std::uint64_t reopened_end = 0;
    {
      hub::log::log_options o;
      auto again = hub::log::open_log(mem_dir, o);
      if (!again) throw std::runtime_error(again.error().message());
      reopened_end = again.value()->end().value;
    }
    double reopen_s = std::chrono::duration<double>(clock_type::now() - t0).count();
    long hwm_after_reopen = status_kib("VmHWM");

    std::printf("%-10s %12s %10s %14s %10s\n", "fsync", "events", "seconds", "events/s", "MB/s");
    for (const auto& r : results) {
      std::printf("%-10s %12llu %10.2f %14.0f %10.1f\n", r.policy.c_str(), static_cast<unsigned long long>(r.events),
                  r.seconds, r.events_per_s, r.mb_per_s);
      out["policies"][r.policy] = {{"events", r.events}, {"seconds", r.seconds}, {"events_per_s", r.events_per_s},
                                   {"mb_per_s", r.mb_per_s}};
    }
    std::printf("memory run: %llu events appended in %.1f s (%.0f events/s, fsync never)\n",
                static_cast<unsigned long long>(mem.events), mem.seconds, mem.events_per_s);
    std::printf("resident memory high-water mark after the run: %.1f MB (limit 256 MB: %s)\n", static_cast<double>(hwm_kib) / 1024.0,
                hwm_kib >= 0 && hwm_kib < 256 * 1024 ? "ok" : "EXCEEDED");
    std::printf("reopen of that log: %.3f s, end offset %llu, VmHWM then %.1f MB\n", reopen_s,
                static_cast<unsigned long long>(reopened_end), static_cast<double>(hwm_after_reopen) / 1024.0);
    out["memory"] = {{"events", mem.events}, {"seconds", mem.seconds}, {"events_per_s", mem.events_per_s},
                     {"vm_hwm_kib", hwm_kib}, {"limit_kib", 256 * 1024}, {"within_limit", hwm_kib < 256 * 1024},
                     {"reopen_seconds", reopen_s}, {"vm_hwm_after_reopen_kib", hwm_after_reopen}};
    std::cout << out.dump() << "\n";
    if (!keep) std::filesystem::remove_all(root);
    return hwm_kib >= 0 && hwm_kib < 256 * 1024 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_log: %s (data left in %s)\n", e.what(), root.c_str());
    return 2;
  }
}
