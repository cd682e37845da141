#include "tests/support/envelopes.h"

#include <atomic>

#include <flatbuffers/flatbuffers.h>

namespace hub::test {

std::vector<std::uint8_t> make_envelope(const envelope_spec& spec) {
  static std::atomic<std::uint64_t> counter{1};
  flatbuffers::FlatBufferBuilder fbb(512);
  std::string title = spec.title;
  if (spec.pad_to > 200 && title.size() < spec.pad_to - 200) title.resize(spec.pad_to - 200, 'x');
  auto t = fbb.CreateString(title);
  flatbuffers::Offset<void> payload;
  auto type = schema::Payload::MandateActivity;
  if (spec.entity == schema::Entity::development) {
    payload = schema::CreateProgrammeActivity(fbb, fbb.CreateString("XM-TEST-1"), t).Union();
    type = schema::Payload::ProgrammeActivity;
  } else {
    payload = schema::CreateMandateActivity(fbb, fbb.CreateString("MA-1"), t, fbb.CreateString("UNMISS"),
                                            schema::MandateArea::poc, schema::Component::civilian,
                                            schema::ActivityStatus::active)
                  .Union();
  }
  std::uint64_t hi = spec.id_hi, lo = spec.id_lo;
  if (hi == 0 && lo == 0) {
    hi = 0x0190000000007000ull;
    lo = counter.fetch_add(1) ^ (static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(&counter)) << 20);
  }
  schema::Id128 id(hi, lo);
  auto src = fbb.CreateString(spec.source_system);
  auto country = fbb.CreateString(spec.country);
  schema::EnvelopeBuilder b(fbb);
  b.add_id(&id);
  b.add_source_system(src);
  b.add_entity(spec.entity);
  b.add_country(country);
  b.add_occurred_at(1735689600000);
  b.add_published_at(1735689600000);
  b.add_classification(spec.classification);
  b.add_payload_type(type);
  b.add_payload(payload);
  schema::FinishEnvelopeBuffer(fbb, b.Finish());
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

schema::Id128 envelope_id(const std::vector<std::uint8_t>& bytes) {
  return *schema::GetEnvelope(bytes.data())->id();
}

}  // namespace hub::test
