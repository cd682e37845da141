#include "hub/jetstream/lease.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "hub/jetstream/nats_util.h"

namespace hub::jetstream {

using namespace detail;
using steady = std::chrono::steady_clock;

struct lease::impl {
  lease_options opts;
  connection_ptr nc;
  js_ptr js;
  kv_ptr kv;

  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  bool held = false;             // we wrote the key last and the write is still fresh
  steady::time_point held_until; // held() is false from then on unless renewed
  std::uint64_t revision = 0;    // our last write's revision
  std::string holder;            // as last read
  std::thread thread;

  void run() {
    std::unique_lock lk(mu);
    while (!stopping) {
      lk.unlock();
      step();
      lk.lock();
      cv.wait_for(lk, opts.renew_every, [&] { return stopping; });
    }
  }

  // One attempt to take or renew the lease.
  void step() {
    bool was;
    std::uint64_t rev;
    {
      std::lock_guard lk(mu);
      was = held && steady::now() < held_until;
      rev = revision;
    }
    auto started = steady::now();
    std::uint64_t new_rev = 0;
    natsStatus s = was ? kvStore_UpdateString(&new_rev, kv.get(), opts.key.c_str(), opts.holder.c_str(), rev)
                       : kvStore_CreateString(&new_rev, kv.get(), opts.key.c_str(), opts.holder.c_str());
    std::string current;
    if (s == NATS_OK) {
      current = opts.holder;
    } else {
      kvEntry* e = nullptr;
      if (kvStore_Get(&e, kv.get(), opts.key.c_str()) == NATS_OK) {
        current = kvEntry_ValueString(e);
        kvEntry_Destroy(e);
      }
    }
    bool now_held;
    {
      std::lock_guard lk(mu);
      if (s == NATS_OK) {
        held = true;
        revision = new_rev;
        // Counted from before the write was sent: the key expires ttl after the
        // server stored it, which is later than `started`.
        held_until = started + opts.ttl - opts.renew_every;
      } else {
        held = false;
      }
      holder = current;
      now_held = held;
    }
    if (was && !now_held)
      spdlog::warn("lease {}: lost ({}); current holder: {}", opts.key, natsStatus_GetText(s),
                   current.empty() ? "none" : current);
    if (!was && now_held) spdlog::info("lease {}: taken by {}", opts.key, opts.holder);
    if (was != now_held && opts.on_change) {
      try {
        opts.on_change(now_held);
      } catch (const std::exception& e) {
        spdlog::error("lease {}: on_change failed: {}", opts.key, e.what());
      }
    }
  }
};

lease::lease(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

result<std::unique_ptr<lease>> lease::open(lease_options opts) {
  if (opts.holder.empty()) return status::config_error("lease: a holder name is required (e.g. the hub's name and pid)");
  if (opts.renew_every * 2 > opts.ttl)
    return status::config_error("lease: renew_every must be at most half of ttl so that a holder renews in time");
  auto p = std::make_unique<impl>();
  p->opts = std::move(opts);
  auto c = connect(p->opts.servers, p->opts.holder + " lease", p->opts.open_timeout);
  if (!c) return c.error();
  p->nc = std::move(c.value());
  jsCtx* js = nullptr;
  natsStatus s = natsConnection_JetStream(&js, p->nc.get(), nullptr);
  if (s != NATS_OK) return status::unavailable(nats_error("lease: cannot open a JetStream context", s));
  p->js.reset(js);
  auto kv = open_bucket(p->js.get(), p->opts.bucket, p->opts.replicas, p->opts.ttl.count(), p->opts.open_timeout);
  if (!kv) return kv.error();
  p->kv = std::move(kv.value());
  auto* raw = p.get();
  p->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<lease>(new lease(std::move(p)));
}

lease::~lease() {
  {
    std::lock_guard lk(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
  bool was;
  {
    std::lock_guard lk(impl_->mu);
    was = impl_->held && steady::now() < impl_->held_until;
  }
  if (was) {
    // Hand over at once rather than after the TTL.
    natsStatus s = kvStore_Delete(impl_->kv.get(), impl_->opts.key.c_str());
    if (s == NATS_OK)
      spdlog::info("lease {}: released", impl_->opts.key);
    else
      spdlog::warn("lease {}: could not release ({}); it expires by itself", impl_->opts.key, natsStatus_GetText(s));
  }
}

bool lease::held() const {
  std::lock_guard lk(impl_->mu);
  return impl_->held && steady::now() < impl_->held_until;
}

std::string lease::holder() const {
  std::lock_guard lk(impl_->mu);
  return impl_->holder;
}

}  // namespace hub::jetstream
