#include "hub/rules/alertmanager.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <ctime>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "schemas/schema.h"

namespace hub::rules {
namespace {

std::string rfc3339(std::int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

std::string s(const flatbuffers::String* v) { return v ? v->str() : ""; }

}  // namespace

struct alertmanager_sink::impl {
  alertmanager_options opts;
  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<nlohmann::json> queue;
  std::map<std::string, nlohmann::json> active;  // firing alerts by alert_id, re-sent periodically
  bool stop = false, busy = false;
  alertmanager_stats st;
  std::thread worker;

  void run() {
    httplib::Client client(opts.url);
    auto to = std::chrono::duration_cast<std::chrono::seconds>(opts.timeout).count();
    client.set_connection_timeout(static_cast<time_t>(std::max<long long>(to, 1)), 0);
    client.set_read_timeout(static_cast<time_t>(std::max<long long>(to, 1)), 0);
    auto backoff = opts.retry_initial;
    auto next_resend = std::chrono::steady_clock::now() + opts.resend_interval;
    std::unique_lock lock(mu);
    while (!stop) {
      if (queue.empty()) {
        busy = false;
        cv.notify_all();
        cv.wait_until(lock, next_resend, [&] { return stop || !queue.empty(); });
        if (stop) break;
        if (std::chrono::steady_clock::now() >= next_resend) {
          for (const auto& [id, a] : active) queue.push_back(a);
          next_resend = std::chrono::steady_clock::now() + opts.resend_interval;
        }
        if (queue.empty()) continue;
      }
      busy = true;
      nlohmann::json batch = nlohmann::json::array();
      std::size_t n = std::min<std::size_t>(queue.size(), 64);
      for (std::size_t i = 0; i < n; ++i) batch.push_back(queue[i]);
      lock.unlock();
      auto res = client.Post("/api/v2/alerts", batch.dump(), "application/json");
      bool ok = res && res->status >= 200 && res->status < 300;
      lock.lock();
      if (ok) {
        for (std::size_t i = 0; i < n && !queue.empty(); ++i) queue.pop_front();
        st.sent += n;
        backoff = opts.retry_initial;
      } else {
        ++st.failures;
        spdlog::warn("alertmanager: POST {}/api/v2/alerts failed ({}); {} alert(s) queued, retrying in {} ms",
                     opts.url, res ? "HTTP " + std::to_string(res->status) : httplib::to_string(res.error()),
                     queue.size(), backoff.count());
        cv.wait_for(lock, backoff, [&] { return stop; });
        backoff = std::min(backoff * 2, opts.retry_max);
      }
    }
    if (!queue.empty()) spdlog::warn("alertmanager: stopping with {} alert(s) not delivered", queue.size());
    busy = false;
    cv.notify_all();
  }
};

alertmanager_sink::alertmanager_sink(alertmanager_options opts) : impl_(std::make_unique<impl>()) {
  impl_->opts = std::move(opts);
  impl_->worker = std::thread([this] { impl_->run(); });
}

alertmanager_sink::~alertmanager_sink() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  impl_->worker.join();
}

bool alertmanager_sink::submit(const schema::Envelope& e) {
  const auto* a = e.payload_as_CoherenceAlert();
  if (a == nullptr) return false;
  nlohmann::json j;
  j["labels"] = {{"alertname", "coherence_gap"},
                 {"rule", s(a->rule_id())},
                 {"key", s(a->key())},
                 {"country", s(e.country())},
                 {"severity", schema::EnumNameSeverity(a->severity())},
                 {"alert_id", s(a->alert_id())}};
  std::string evidence;
  if (a->evidence())
    for (const auto* ev : *a->evidence())
      evidence += (evidence.empty() ? "" : "\n") + (ev->event_id() ? schema::id_to_hex(*ev->event_id()) : "") + ": " +
                  s(ev->excerpt());
  j["annotations"] = {{"summary", s(a->title())},   {"description", s(a->explanation())},
                      {"anchor", s(a->anchor())},   {"closing_action", s(a->closing_action())},
                      {"objective", s(a->objective_id())}, {"evidence", evidence}};
  j["startsAt"] = rfc3339(a->first_processed_at() ? a->first_processed_at() : a->processed_at());
  bool resolved = a->status() == schema::AlertStatus::resolved;
  if (resolved) j["endsAt"] = rfc3339(a->processed_at());
  if (!impl_->opts.generator_url.empty()) j["generatorURL"] = impl_->opts.generator_url;
  {
    std::lock_guard lock(impl_->mu);
    if (resolved) impl_->active.erase(s(a->alert_id()));
    else impl_->active[s(a->alert_id())] = j;
    if (impl_->queue.size() >= impl_->opts.max_queue) {
      impl_->queue.pop_front();
      ++impl_->st.dropped;
    }
    impl_->queue.push_back(std::move(j));
  }
  impl_->cv.notify_all();
  return true;
}

bool alertmanager_sink::submit(std::span<const std::uint8_t> envelope) {
  auto check = schema::check_envelope(envelope);
  if (check.envelope == nullptr) return false;
  return submit(*check.envelope);
}

bool alertmanager_sink::flush(std::chrono::milliseconds deadline) {
  std::unique_lock lock(impl_->mu);
  return impl_->cv.wait_for(lock, deadline, [&] { return impl_->queue.empty() && !impl_->busy; });
}

alertmanager_stats alertmanager_sink::stats() const {
  std::lock_guard lock(impl_->mu);
  auto out = impl_->st;
  out.queued = impl_->queue.size();
  return out;
}

}  // namespace hub::rules
