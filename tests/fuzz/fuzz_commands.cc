// Fuzzes the client command parser: the input is cut into frames (a 2-byte length before
// each), as ZeroMQ would deliver a multipart message.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "hub/broker/commands.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<hub::broker::frame> frames;
  std::size_t i = 0;
  while (i + 2 <= size && frames.size() < 16) {
    std::size_t len = data[i] | (data[i + 1] << 8);
    i += 2;
    if (len > size - i) len = size - i;
    frames.emplace_back(data + i, len);
    i += len;
  }
  auto cmd = hub::broker::parse_command(frames);
  if (auto* e = std::get_if<hub::broker::parse_error>(&cmd))
    if (e->text.empty()) __builtin_trap();  // every refusal says why
  return 0;
}
