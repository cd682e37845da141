// A store that keeps everything in memory: for tests and the demo. Nothing survives a
// restart. Retention by count bounds memory. Loop thread only (sync() is a no-op).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>

#include "hub/store/store.h"

namespace hub::store {

struct memory_store_options {
  std::uint64_t max_records = 0;  // keep at most this many (0 = unlimited)
  std::uint64_t max_bytes = 0;    // keep at most this many envelope bytes (0 = unlimited)
};

std::unique_ptr<store> make_memory_store(memory_store_options opts = {});

}  // namespace hub::store
