#include "adapters/sdk/event.h"

#include <sodium.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <regex>
#include <stdexcept>

#include <flatbuffers/idl.h>
#include <nlohmann/json.hpp>

#include "schemas/schema.h"

namespace hub::sdk {
namespace {

// Insertion order is kept so that "payload_type" can be put before "payload", as the
// FlatBuffers parser reads a union's type first.
using json = nlohmann::ordered_json;

void ensure_sodium() {
  static const int ok = sodium_init();
  if (ok < 0) throw std::runtime_error("libsodium could not be initialised");
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The parser holds the compiled schema. Parse() writes into the parser's own builder, so
// every use takes the mutex; the schema itself is parsed once.
struct schema_parser {
  std::mutex mu;
  flatbuffers::Parser parser;

  schema_parser() : parser(make_opts()) {
    std::string text(schema::events_fbs_text);
    if (!parser.Parse(text.c_str()))
      throw std::runtime_error("schemas/events.fbs does not parse: " + parser.error_);
  }
  static flatbuffers::IDLOptions make_opts() {
    flatbuffers::IDLOptions o;
    o.strict_json = true;
    o.output_enum_identifiers = true;
    o.indent_step = -1;
    return o;
  }
};

schema_parser& shared_parser() {
  static schema_parser p;  // C++11 guarantees thread-safe initialisation
  return p;
}

// Fields of events.fbs that hold a time (ms since epoch); at any depth.
bool is_time_field(const std::string& name) {
  static const std::array<std::string_view, 19> names = {
      "occurred_at",   "published_at",       "valid_from",   "valid_to",         "planned_start",
      "planned_end",   "actual_start",       "actual_end",   "planned_date",     "actual_date",
      "first_event_time", "last_event_time", "first_processed_at", "processed_at", "until",
      "last_record_time", "started_at",      "start",        "end"};
  for (auto n : names)
    if (n == name) return true;
  return false;
}

std::string payload_type_from_name(const std::string& v) {
  // Accept the topic spelling ("mandate_activity") besides the schema's ("MandateActivity").
  auto p = schema::event_type_from_name(v);
  if (!p) return v;
  return schema::EnumNamePayload(*p);
}

// Converts the conveniences of event.h into what flatbuffers::Parser reads. Returns an
// error message naming the field, or empty.
std::string preprocess(json& j, const std::string& path) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& key = it.key();
      std::string where = path.empty() ? key : path + "." + key;
      json& v = it.value();
      bool id_field = ((key == "id" || key == "causation_id") && path.empty()) || key == "event_id";
      if (id_field && v.is_string()) {
        auto id = schema::id_from_hex(v.get<std::string>());
        if (!id) return "field \"" + where + "\": \"" + v.get<std::string>() +
                        "\" is not an id (32 hex digits, dashes allowed)";
        v = json{{"hi", id->hi()}, {"lo", id->lo()}};
        continue;
      }
      if (is_time_field(key) && v.is_string()) {
        auto ms = parse_time(v.get<std::string>());
        if (!ms) return "field \"" + where + "\": \"" + v.get<std::string>() +
                        "\" is not a time (use 2025-03-01 or 2025-03-01T10:00:00Z, or ms since 1970)";
        v = *ms;
        continue;
      }
      if (key == "payload_type" && v.is_string()) {
        v = payload_type_from_name(v.get<std::string>());
        continue;
      }
      auto err = preprocess(v, where);
      if (!err.empty()) return err;
    }
  } else if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i) {
      auto err = preprocess(j[i], path + "[" + std::to_string(i) + "]");
      if (!err.empty()) return err;
    }
  }
  return {};
}

// flatbuffers errors look like "12: 5: error: unknown field: foo" (line: column). Returns
// that line of `text`, trimmed, so that the message shows the field.
std::string line_of_error(const std::string& error, const std::string& text) {
  static const std::regex where(R"((\d+): (\d+): error)");
  std::smatch m;
  if (!std::regex_search(error, m, where)) return {};
  auto line = std::stoul(m[1].str());
  std::size_t start = 0;
  for (std::size_t l = 1; l < line && start != std::string::npos; ++l) {
    start = text.find('\n', start);
    if (start != std::string::npos) ++start;
  }
  if (start == std::string::npos) return {};
  auto end = text.find('\n', start);
  std::string s = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
  auto b = s.find_first_not_of(' ');
  if (b == std::string::npos) return {};
  s = s.substr(b);
  if (!s.empty() && s.back() == ',') s.pop_back();
  return s;
}

json id_json_to_hex(const json& v) {
  if (!v.is_object() || !v.contains("hi") || !v.contains("lo")) return v;
  schema::Id128 id(v["hi"].get<std::uint64_t>(), v["lo"].get<std::uint64_t>());
  return schema::id_to_hex(id);
}

void postprocess(json& j, bool top) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& key = it.key();
      if (((key == "id" || key == "causation_id") && top) || key == "event_id") {
        it.value() = id_json_to_hex(it.value());
        continue;
      }
      postprocess(it.value(), false);
    }
  } else if (j.is_array()) {
    for (auto& e : j) postprocess(e, false);
  }
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

}  // namespace

schema::Id128 new_event_id() {
  ensure_sodium();
  // Monotonic within the process: the 12 bits after the version count up within one
  // millisecond (RFC 9562, method 1), so ids from one publisher sort in creation order.
  static std::mutex mu;
  static std::uint64_t last_ms = 0;
  static std::uint64_t counter = 0;
  std::uint64_t ms;
  std::uint64_t seq;
  {
    std::lock_guard lock(mu);
    ms = static_cast<std::uint64_t>(now_ms());
    if (ms <= last_ms) {
      ms = last_ms;
      if (++counter > 0xfff) {
        ++ms;
        counter = 0;
      }
    } else {
      counter = randombytes_uniform(0x800);  // random start, room to count up
    }
    last_ms = ms;
    seq = counter;
  }
  std::uint64_t rnd = 0;
  randombytes_buf(&rnd, sizeof rnd);
  std::uint64_t hi = ((ms & 0xffffffffffffULL) << 16) | (0x7ULL << 12) | (seq & 0xfff);
  std::uint64_t lo = (rnd & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  return schema::Id128(hi, lo);
}

schema::Id128 derived_event_id(std::string_view source_system, std::string_view record_id,
                               std::string_view revision) {
  ensure_sodium();
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 16);
  for (auto part : {source_system, record_id, revision}) {
    std::uint8_t len[8];
    auto n = static_cast<std::uint64_t>(part.size());
    for (int i = 0; i < 8; ++i) len[i] = static_cast<std::uint8_t>(n >> (8 * i));
    crypto_generichash_update(&st, len, sizeof len);
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(part.data()), part.size());
  }
  std::uint8_t out[16];
  crypto_generichash_final(&st, out, sizeof out);
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  for (int i = 0; i < 8; ++i) hi = (hi << 8) | out[i];
  for (int i = 8; i < 16; ++i) lo = (lo << 8) | out[i];
  if (hi == 0 && lo == 0) lo = 1;  // zero is "no id" on the wire
  return schema::Id128(hi, lo);
}

std::vector<std::uint8_t> finish_envelope(flatbuffers::FlatBufferBuilder& fbb,
                                          flatbuffers::Offset<schema::Envelope> root) {
  schema::FinishEnvelopeBuffer(fbb, root);
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

std::optional<std::vector<std::uint8_t>> envelope_from_json(std::string_view text, std::string* error) {
  auto fail = [&](std::string msg) -> std::optional<std::vector<std::uint8_t>> {
    if (error != nullptr) *error = std::move(msg);
    return std::nullopt;
  };
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // Parse again with exceptions for the position of the error.
    try {
      json again = json::parse(text.begin(), text.end());
      return fail("not valid JSON");
    } catch (const json::parse_error& e) {
      std::size_t line = 1;
      for (std::size_t i = 0; i < e.byte && i < text.size(); ++i)
        if (text[i] == '\n') ++line;
      return fail("not valid JSON (line " + std::to_string(line) + ", byte " +
                  std::to_string(e.byte) + "): " + e.what());
    }
    return fail("not valid JSON");
  }
  if (!j.is_object()) return fail("an event must be a JSON object, got " + std::string(j.type_name()));
  j.erase("offset");  // added by envelope_to_json; not part of the envelope
  j.erase("topic");
  if (!j.contains("id") || j["id"].is_null()) {
    auto id = new_event_id();
    j["id"] = json{{"hi", id.hi()}, {"lo", id.lo()}};
  }
  if (!j.contains("published_at") || j["published_at"].is_null()) j["published_at"] = now_ms();
  auto err = preprocess(j, "");
  if (!err.empty()) return fail(err);
  if (j.contains("payload") && j.contains("payload_type")) {
    json payload = j["payload"];
    j.erase("payload");
    j["payload"] = std::move(payload);  // now after payload_type
  }

  // One field per line, so that the parser's line number points at the field.
  std::string pretty = j.dump(1);
  auto& sp = shared_parser();
  std::lock_guard lock(sp.mu);
  if (!sp.parser.ParseJson(pretty.c_str())) {
    std::string msg = sp.parser.error_;
    auto near = line_of_error(msg, pretty);
    // Drop the parser's own "error: :L: C: error: " prefix, keep what it says.
    auto k = msg.rfind("error: ");
    std::string what = k == std::string::npos ? msg : msg.substr(k + 7);
    if (!near.empty()) what += " (at " + near + ")";
    return fail("event does not match schemas/events.fbs: " + what);
  }
  auto* buf = sp.parser.builder_.GetBufferPointer();
  std::vector<std::uint8_t> out(buf, buf + sp.parser.builder_.GetSize());
  if (!schema::EnvelopeBufferHasIdentifier(out.data())) return fail("internal: envelope identifier missing");
  return out;
}

std::string envelope_to_json(std::span<const std::uint8_t> bytes, std::optional<std::uint64_t> offset,
                             std::string_view topic) {
  flatbuffers::Verifier v(bytes.data(), bytes.size(), schema::verifier_max_depth,
                          schema::verifier_max_tables);
  if (bytes.size() < 8 || !schema::EnvelopeBufferHasIdentifier(bytes.data()) ||
      !schema::VerifyEnvelopeBuffer(v)) {
    json e{{"error", "not a valid envelope (" + std::to_string(bytes.size()) + " bytes)"}};
    if (offset) e["offset"] = *offset;
    return e.dump();
  }
  std::string text;
  {
    auto& sp = shared_parser();
    std::lock_guard lock(sp.mu);
    if (!flatbuffers::GenerateText(sp.parser, bytes.data(), &text))
      return json{{"error", "envelope could not be printed"}}.dump();
  }
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return json{{"error", "envelope printed as invalid JSON"}}.dump();
  postprocess(j, true);
  json out = json::object();
  if (offset) out["offset"] = *offset;
  if (!topic.empty()) out["topic"] = std::string(topic);
  for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = it.value();
  return out.dump();
}

std::optional<std::int64_t> parse_time(std::string_view s) {
  auto digits = [&](std::size_t pos, std::size_t n, int& out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    out = v;
    return true;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!digits(0, 4, y) || s.size() < 10 || s[4] != '-' || !digits(5, 2, mo) || s[7] != '-' ||
      !digits(8, 2, d))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return std::nullopt;
  std::int64_t ms_frac = 0;
  std::int64_t tz_offset_min = 0;
  std::size_t p = 10;
  if (p < s.size()) {
    if (s[p] != 'T' && s[p] != ' ') return std::nullopt;
    ++p;
    if (!digits(p, 2, h) || p + 2 >= s.size() || s[p + 2] != ':' || !digits(p + 3, 2, mi))
      return std::nullopt;
    p += 5;
    if (p < s.size() && s[p] == ':') {
      if (!digits(p + 1, 2, sec)) return std::nullopt;
      p += 3;
      if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
        ++p;
        int scale = 100;
        while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
          ms_frac += (s[p] - '0') * scale;
          scale /= 10;
          ++p;
        }
      }
    }
    if (h > 23 || mi > 59 || sec > 60) return std::nullopt;
    if (p < s.size()) {
      if (s[p] == 'Z' || s[p] == 'z') {
        ++p;
      } else if (s[p] == '+' || s[p] == '-') {
        int oh = 0, om = 0;
        if (!digits(p + 1, 2, oh)) return std::nullopt;
        std::size_t q = p + 3;
        if (q < s.size() && s[q] == ':') ++q;
        if (!digits(q, 2, om)) return std::nullopt;
        tz_offset_min = (oh * 60 + om) * (s[p] == '-' ? -1 : 1);
        p = q + 2;
      } else {
        return std::nullopt;
      }
    }
    if (p != s.size()) return std::nullopt;
  }
  std::int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  std::int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - tz_offset_min * 60;
  return secs * 1000 + ms_frac;
}

std::string format_time(std::int64_t ms, bool date_only) {
  std::int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  std::int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  std::int64_t rem = secs - days * 86400;
  std::int64_t y = 0;
  unsigned m = 0, d = 0;
  civil_from_days(days, y, m, d);
  char buf[40];
  if (date_only)
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
  else
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02dZ", static_cast<long long>(y), m, d,
                  static_cast<int>(rem / 3600), static_cast<int>(rem % 3600 / 60),
                  static_cast<int>(rem % 60));
  return buf;
}

}  // namespace hub::sdk
