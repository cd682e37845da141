#include "hub/hubd/rules_runner.h"

#include <cstring>

#include <spdlog/spdlog.h>

#include "schemas/schema.h"

namespace hub::hubd {
namespace {

std::variant<std::shared_ptr<const rules::rule_set>, std::string> load(const std::vector<std::string>& files) {
  std::vector<std::filesystem::path> paths(files.begin(), files.end());
  auto loaded = rules::load_rule_files(paths);
  if (auto* errs = std::get_if<std::vector<rules::load_error>>(&loaded)) {
    std::string all;
    for (const auto& e : *errs) all += (all.empty() ? "" : "\n") + rules::to_string(e);
    return all;
  }
  return std::get<std::shared_ptr<const rules::rule_set>>(loaded);
}

}  // namespace

result<std::unique_ptr<rules_runner>> rules_runner::start(const std::vector<std::string>& files,
                                                          const std::string& alertmanager_url) {
  auto loaded = load(files);
  if (auto* err = std::get_if<std::string>(&loaded)) return status::config_error(*err);
  return std::unique_ptr<rules_runner>(
      new rules_runner(files, std::get<std::shared_ptr<const rules::rule_set>>(loaded), alertmanager_url));
}

rules_runner::rules_runner(std::vector<std::string> files, std::shared_ptr<const rules::rule_set> rules,
                           const std::string& alertmanager_url)
    : files_(std::move(files)), engine_(std::move(rules)) {
  if (!alertmanager_url.empty()) {
    rules::alertmanager_options o;
    o.url = alertmanager_url;
    sink_ = std::make_unique<rules::alertmanager_sink>(o);
  }
}

rules_runner::~rules_runner() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void rules_runner::rebuild(store::store& st, bool active) {
  engine_.set_replaying(true);
  std::size_t n = 0;
  std::vector<std::uint64_t> aligned;
  offset from = st.begin();
  const offset end = st.durable_end();
  while (from < end) {
    auto r = st.read(from, end, 4096, [&](const store::record_view& v) {
      // An aligned copy: the log packs records at any byte position.
      aligned.resize((v.envelope.size() + 7) / 8);
      std::memcpy(aligned.data(), v.envelope.data(), v.envelope.size());
      engine_.on_event(v.off.value, v.log_time, *schema::GetEnvelope(reinterpret_cast<const std::uint8_t*>(aligned.data())),
                       out_);
      ++n;
      return true;
    });
    if (!r || r.value() <= from) break;
    from = r.value();
  }
  out_.clear();
  if (active) {
    std::vector<std::vector<std::uint8_t>> diff;
    engine_.set_replaying(false, &diff);
    for (auto& d : diff) {
      if (sink_) sink_->submit(std::span<const std::uint8_t>(d));
      out_.push_back(std::move(d));
    }
    active_ = true;
    spdlog::info("rules: replayed {} stored events; {} alert(s) firing; {} transition(s) to publish", n,
                 engine_.firing().size(), out_.size());
  } else {
    spdlog::info("rules: replayed {} stored events; standby until this hub holds the rules lease", n);
  }
  thread_ = std::thread([this] { run(); });
}

void rules_runner::feed(const store::record_view& v) {
  item it;
  it.offset = v.off.value;
  it.log_time = v.log_time;
  it.envelope.assign(v.envelope.begin(), v.envelope.end());
  {
    std::lock_guard lk(mu_);
    queue_.push_back(std::move(it));
  }
  cv_.notify_one();
}

void rules_runner::set_active(bool on) {
  item it;
  it.what = on ? item::kind::activate : item::kind::standby;
  {
    std::lock_guard lk(mu_);
    queue_.push_back(std::move(it));
  }
  cv_.notify_one();
}

void rules_runner::tick(millis now) {
  item it;
  it.what = item::kind::tick;
  it.log_time = now;
  {
    std::lock_guard lk(mu_);
    queue_.push_back(std::move(it));
  }
  cv_.notify_one();
}

void rules_runner::drain(std::vector<std::vector<std::uint8_t>>& out) {
  std::lock_guard lk(mu_);
  for (auto& o : out_) out.push_back(std::move(o));
  out_.clear();
}

status rules_runner::reload() {
  auto loaded = load(files_);
  if (auto* err = std::get_if<std::string>(&loaded)) {
    spdlog::error("rules reload refused, the running rules stay in force:\n{}", *err);
    return status::config_error(*err);
  }
  std::lock_guard lk(mu_);
  pending_rules_ = std::get<std::shared_ptr<const rules::rule_set>>(loaded);
  cv_.notify_one();
  return status::ok();
}

std::size_t rules_runner::backlog() const {
  std::lock_guard lk(mu_);
  return queue_.size();
}

rules::engine_stats rules_runner::stats() const { return engine_.stats(); }
std::vector<rules::alert_view> rules_runner::firing() const { return engine_.firing(); }

void rules_runner::run() {
  std::vector<std::vector<std::uint8_t>> produced;
  while (true) {
    std::deque<item> batch;
    std::shared_ptr<const rules::rule_set> next_rules;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stop_ || !queue_.empty() || pending_rules_; });
      if (stop_) return;
      batch.swap(queue_);
      next_rules.swap(pending_rules_);
    }
    if (next_rules) {
      engine_.replace_rules(next_rules);
      spdlog::info("rules reloaded from {} file(s)", files_.size());
    }
    for (auto& it : batch) {
      try {
        switch (it.what) {
          case item::kind::tick:
            engine_.on_tick(it.log_time, produced);
            break;
          case item::kind::event:
            engine_.on_event(it.offset, it.log_time, *schema::GetEnvelope(it.envelope.data()), produced);
            break;
          case item::kind::activate:
            if (active_) break;
            {
              const std::size_t before = produced.size();
              engine_.set_replaying(false, &produced);
              active_ = true;
              spdlog::info("rules: this hub now raises alerts; {} alert(s) firing, {} transition(s) the log lacked",
                           engine_.firing().size(), produced.size() - before);
            }
            break;
          case item::kind::standby:
            if (!active_) break;
            engine_.set_replaying(true);
            active_ = false;
            spdlog::info("rules: standby; another hub raises alerts while it holds the rules lease");
            break;
        }
      } catch (const std::exception& e) {
        if (it.what == item::kind::event && !it.envelope.empty())
          spdlog::error("rules engine failed on event {} at offset {}: {}",
                        schema::id_to_hex(*schema::GetEnvelope(it.envelope.data())->id()), it.offset, e.what());
        else
          spdlog::error("rules engine failed at offset {}: {}", it.offset, e.what());
      }
    }
    if (produced.empty()) continue;
    if (sink_)
      for (const auto& p : produced) sink_->submit(std::span<const std::uint8_t>(p));
    std::lock_guard lk(mu_);
    for (auto& p : produced) out_.push_back(std::move(p));
    produced.clear();
  }
}

}  // namespace hub::hubd
