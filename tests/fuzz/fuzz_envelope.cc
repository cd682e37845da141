// Fuzzes the envelope check every PUB goes through: size, identifier, the FlatBuffers
// verifier with limits, then the field checks and topic derivation.
#include <cstddef>
#include <cstdint>

#include "schemas/schema.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto check = hub::schema::check_envelope({data, size});
  if (check.envelope != nullptr) {
    auto topic = hub::schema::topic_of(*check.envelope);
    (void)hub::schema::id_to_hex(*check.envelope->id());
    if (topic.empty()) __builtin_trap();
  }
  return 0;
}
