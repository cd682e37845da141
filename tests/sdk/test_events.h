// Small helpers for SDK integration tests: events to publish and a raw DEALER socket.
#pragma once

#include <string>
#include <vector>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "adapters/sdk/event.h"
#include "adapters/sdk/sdk.h"
#include "schemas/schema.h"
#include "schemas/wire.h"

namespace hub::test {

// A mandate activity (or programme activity for development) with a new id.
inline std::vector<std::uint8_t> make_event(schema::Entity entity, const std::string& country,
                                            const std::string& record) {
  flatbuffers::FlatBufferBuilder fbb;
  auto id = sdk::new_event_id();
  flatbuffers::Offset<void> payload;
  schema::Payload type;
  if (entity == schema::Entity::development) {
    payload = schema::CreateProgrammeActivityDirect(fbb, record.c_str(), "programme").Union();
    type = schema::Payload::ProgrammeActivity;
  } else {
    payload = schema::CreateMandateActivityDirect(fbb, record.c_str(), "activity", "UNMISS",
                                                  schema::MandateArea::poc)
                  .Union();
    type = schema::Payload::MandateActivity;
  }
  auto source = fbb.CreateString("sdk-test");
  auto c = fbb.CreateString(country);
  auto rec = fbb.CreateString(record);
  schema::EnvelopeBuilder b(fbb);
  b.add_id(&id);
  b.add_source_system(source);
  b.add_entity(entity);
  b.add_country(c);
  b.add_source_record_id(rec);
  b.add_payload_type(type);
  b.add_payload(payload);
  return sdk::finish_envelope(fbb, b.Finish());
}

inline std::string id_of(const std::vector<std::uint8_t>& bytes) {
  return schema::id_to_hex(*schema::GetEnvelope(bytes.data())->id());
}

inline sdk::connection_options connect_to(const std::string& endpoint) {
  sdk::connection_options c;
  c.endpoints = {endpoint};
  c.client_name = "sdk-test";
  c.heartbeat = std::chrono::milliseconds(200);
  c.hub_timeout = std::chrono::milliseconds(1500);
  return c;
}

}  // namespace hub::test
