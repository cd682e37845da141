// A few threads that run the iterations of one loop in parallel with the caller. The
// event loop hands them a turn's signature checks: Ed25519 verification is by far the
// costliest step of an acknowledged publish, and the checks of different PUBs are
// independent. run() returns when every iteration is done, so the loop keeps sole
// ownership of its state before and after; the iterations must touch only their own
// slot.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace hub::broker {

class work_pool {
 public:
  // `workers` threads besides the caller (0: run() does everything itself).
  explicit work_pool(unsigned workers) {
    for (unsigned i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  }

  ~work_pool() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    start_.notify_all();
    for (auto& t : threads_) t.join();
  }

  work_pool(const work_pool&) = delete;
  work_pool& operator=(const work_pool&) = delete;

  // Calls fn(0) ... fn(n - 1), spread over the workers and the caller.
  void run(std::size_t n, const std::function<void(std::size_t)>& fn) {
    if (threads_.empty() || n < 2) {
      for (std::size_t i = 0; i < n; ++i) fn(i);
      return;
    }
    {
      std::lock_guard lk(mu_);
      fn_ = &fn;
      n_ = n;
      next_.store(0);
      busy_ = threads_.size();
      ++generation_;
    }
    start_.notify_all();
    drain();
    std::unique_lock lk(mu_);
    done_.wait(lk, [&] { return busy_ == 0; });
    fn_ = nullptr;
  }

  [[nodiscard]] std::size_t workers() const { return threads_.size(); }

 private:
  void drain() {
    for (std::size_t i = next_.fetch_add(1); i < n_; i = next_.fetch_add(1)) (*fn_)(i);
  }

  void work() {
    std::uint64_t seen = 0;
    std::unique_lock lk(mu_);
    for (;;) {
      start_.wait(lk, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      lk.unlock();
      drain();
      lk.lock();
      if (--busy_ == 0) done_.notify_one();
    }
  }

  std::mutex mu_;
  std::condition_variable start_, done_;
  const std::function<void(std::size_t)>* fn_ = nullptr;  // set by run() under mu_
  std::size_t n_ = 0;
  std::atomic<std::size_t> next_{0};
  std::size_t busy_ = 0;          // workers still on the current run
  std::uint64_t generation_ = 0;  // one per run()
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace hub::broker
