// Fuzzes the client socket's ZMTP parser (NULL mechanism), which reads what any TCP peer
// of hubd's client endpoint sends: the first byte chooses how the rest is cut (as TCP
// may deliver it), the rest is the bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hub/broker/zmtp_router.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = data[0] % 17 == 0 ? size : data[0] % 17;
  hub::broker::router_limits limits;
  limits.max_message_bytes = 1024;  // small, so that the fuzzer reaches the limits
  limits.max_frames = 8;
  auto out = hub::broker::zmtp_router::parse_only(
      std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), chunk, limits);
  if (!out.open && out.why.empty()) __builtin_trap();  // every close says why
  if (out.messages > 0 && !out.ready) __builtin_trap();  // no message before the handshake
  return 0;
}
