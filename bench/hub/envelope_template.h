// The hub benchmarks' event: a schema-valid MandateActivity envelope of about `size`
// bytes whose id is rewritten in place for every event, so that building one costs
// nothing on the measured path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "schemas/schema.h"

namespace bench {

struct envelope_template {
  std::vector<std::uint8_t> bytes;
  std::size_t id_at = 0;  // where the id (hi, lo) sits in `bytes`

  // Throws std::runtime_error if the envelope does not pass the hub's verifier.
  explicit envelope_template(std::size_t size = 0, std::uint64_t id_hi = 1) {
    std::string title = "Community violence reduction patrol, Bentiu";
    for (int pass = 0; pass < 2; ++pass) {
      build(title, id_hi);
      if (bytes.size() < size) title.append(size - bytes.size(), '.');
    }
    auto check = hub::schema::check_envelope(bytes);
    if (check.reason != hub::schema::Reason::ok)
      throw std::runtime_error("the benchmark envelope is not valid: " + check.detail);
    id_at = static_cast<std::size_t>(reinterpret_cast<const std::uint8_t*>(check.envelope->id()) - bytes.data());
  }

  void set_id(std::uint64_t hi, std::uint64_t lo) {
    flatbuffers::WriteScalar(bytes.data() + id_at, hi);
    flatbuffers::WriteScalar(bytes.data() + id_at + 8, lo);
  }

 private:
  void build(const std::string& title, std::uint64_t id_hi) {
    namespace schema = hub::schema;
    flatbuffers::FlatBufferBuilder fbb(512);
    auto payload = schema::CreateMandateActivity(fbb, fbb.CreateString("UNMISS-CVR-0042"), fbb.CreateString(title),
                                                 fbb.CreateString("UNMISS"), schema::MandateArea::cvr,
                                                 schema::Component::civilian, schema::ActivityStatus::active,
                                                 fbb.CreateString("peace_security"));
    schema::Id128 id(id_hi, 1);
    auto src = fbb.CreateString("bench-unmiss");
    auto country = fbb.CreateString("SSD");
    schema::EnvelopeBuilder b(fbb);
    b.add_id(&id);
    b.add_source_system(src);
    b.add_entity(schema::Entity::peacekeeping);
    b.add_country(country);
    b.add_occurred_at(1735689600000);
    b.add_published_at(1735689600000);
    b.add_classification(schema::Classification::public_);
    b.add_payload_type(schema::Payload::MandateActivity);
    b.add_payload(payload.Union());
    schema::FinishEnvelopeBuffer(fbb, b.Finish());
    bytes.assign(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  }
};

}  // namespace bench
