// Small valid envelopes for tests, built with the generated FlatBuffers API.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "schemas/events_generated.h"

namespace hub::test {

struct envelope_spec {
  std::uint64_t id_hi = 0;   // 0: derived from a counter
  std::uint64_t id_lo = 0;
  schema::Entity entity = schema::Entity::peacekeeping;
  std::string country = "SSD";
  std::string source_system = "test-adapter";
  schema::Classification classification = schema::Classification::internal;
  std::string title = "patrol";
  std::size_t pad_to = 0;    // grow the title so the envelope is about this many bytes
};

// A MandateActivity envelope (or, for entity development, a ProgrammeActivity one).
std::vector<std::uint8_t> make_envelope(const envelope_spec& spec = {});

// The id of an envelope built by make_envelope.
schema::Id128 envelope_id(const std::vector<std::uint8_t>& bytes);

}  // namespace hub::test
