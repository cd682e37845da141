// bench_dedup: what the hub pays per PUB to drop resends. Every PUB looks its id up in
// the dedup window and, being new, inserts it (forgetting the oldest once the window is
// full). Measured for hub::dedup::dedup_window and, in the same run, for the obvious
// design it replaced: a std::unordered_map from id to offset plus a ring of ids in
// insertion order. Random 128-bit ids (as adapters derive them), a full window, then
// `--events` more; prints ns per PUB, the ratio and each one's memory growth.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <CLI/CLI.hpp>

#include "hub/dedup/dedup.h"

namespace {

// The replaced design, kept here as the peer.
class map_window {
 public:
  explicit map_window(std::size_t cap) : cap_(cap) {
    map_.reserve(cap);
    ring_.reserve(cap);
  }
  std::optional<hub::offset> find(const hub::schema::Id128& id) const {
    auto it = map_.find(key{id.hi(), id.lo()});
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }
  void insert(const hub::schema::Id128& id, hub::offset off) {
    key k{id.hi(), id.lo()};
    if (!map_.try_emplace(k, off).second) return;
    if (ring_.size() < cap_) {
      ring_.push_back(k);
      return;
    }
    map_.erase(ring_[next_]);
    ring_[next_] = k;
    next_ = (next_ + 1) % cap_;
  }

 private:
  struct key {
    std::uint64_t hi, lo;
    bool operator==(const key&) const = default;
  };
  struct key_hash {
    std::size_t operator()(const key& k) const noexcept {
      return static_cast<std::size_t>(k.lo ^ (k.hi * 0x9e3779b97f4a7c15ull));
    }
  };
  std::size_t cap_;
  std::unordered_map<key, hub::offset, key_hash> map_;
  std::vector<key> ring_;
  std::size_t next_ = 0;
};

long rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

struct figures {
  double ns_per_pub = 0;
  long rss_growth_kb = 0;
  std::size_t duplicates = 0;
};

template <typename Window>
figures run(std::size_t window, std::size_t events) {
  const long before = rss_kb();
  figures f;
  {
    Window w(window);
    std::uint64_t s = 0x9e3779b97f4a7c15ull;
    auto next_id = [&](std::size_t i) {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      return hub::schema::Id128(s, s ^ (i * 0xff51afd7ed558ccdull));
    };
    for (std::size_t i = 0; i < window; ++i) w.insert(next_id(i), hub::offset{i});  // fill it
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = window; i < window + events; ++i) {
      auto id = next_id(i);
      if (w.find(id)) ++f.duplicates;
      w.insert(id, hub::offset{i});
    }
    f.ns_per_pub = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() /
                   static_cast<double>(events);
    f.rss_growth_kb = rss_kb() - before;
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_dedup: the hub's dedup window against a std::unordered_map window"};
  std::size_t window = 1'000'000, events = 5'000'000;
  int reps = 3;
  app.add_option("--window", window, "ids remembered (hubd's dedup_window)");
  app.add_option("--events", events, "PUBs measured after the window is full");
  app.add_option("--reps", reps, "repetitions (the median is printed)")->check(CLI::Range(1, 9));
  CLI11_PARSE(app, argc, argv);

  std::vector<figures> hub_runs, map_runs;
  for (int r = 0; r < reps; ++r) {  // interleaved, so that both see the same machine
    hub_runs.push_back(run<hub::dedup::dedup_window>(window, events));
    map_runs.push_back(run<map_window>(window, events));
  }
  auto median = [](std::vector<figures> v) {
    std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.ns_per_pub < b.ns_per_pub; });
    return v[v.size() / 2];
  };
  const figures h = median(hub_runs), m = median(map_runs);
  std::printf("dedup window of %zu ids, %zu new ids measured, median of %d runs\n", window, events, reps);
  std::printf("%-44s %10s %14s\n", "window", "ns/PUB", "memory");
  std::printf("%-44s %10.0f %11ld MB\n", "hub dedup_window (flat, open addressing)", h.ns_per_pub, h.rss_growth_kb / 1024);
  std::printf("%-44s %10.0f %11ld MB\n", "std::unordered_map + ring (the peer)", m.ns_per_pub, m.rss_growth_kb / 1024);
  std::printf("hub vs peer: %.2fx faster\n", m.ns_per_pub / h.ns_per_pub);
  if (h.duplicates != 0 || m.duplicates != 0) {
    std::fprintf(stderr, "bench_dedup: random ids were found as duplicates (%zu, %zu)\n", h.duplicates, m.duplicates);
    return 1;
  }
  return 0;
}
