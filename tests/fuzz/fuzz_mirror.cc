// Fuzzes the mirror's ZMTP parser, which reads what any TCP peer of the mirror sends: the
// first byte chooses how the rest is cut (as TCP may deliver it), the rest is the bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <spdlog/spdlog.h>

#include "hub/broker/zmtp_mirror.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::off);  // a READY logs a line; not thousands a second here
    return true;
  }();
  if (size == 0 || !quiet) return 0;
  const std::size_t chunk = data[0] % 17 == 0 ? size : data[0] % 17;
  hub::broker::mirror_limits limits;
  limits.max_frame_bytes = 1024;  // small, so that the fuzzer reaches the limit
  auto out = hub::broker::zmtp_mirror::parse_only(
      std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), chunk, limits);
  if (!out.open && out.why.empty()) __builtin_trap();  // every close says why
  if (out.subscriptions > 0 && !out.ready) __builtin_trap();  // no subscription before READY
  return 0;
}
