#include "hub/log/verify.h"

#include <sodium.h>
#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "hub/log/format.h"
#include "hub/log/record.h"

namespace hub::log {

namespace f = format;
namespace fs = std::filesystem;

std::string verify_problem::text() const {
  std::string where;
  if (off) where = fmt::format("offset {}", *off);
  if (!segment.empty()) where += fmt::format("{}(segment {}, byte {})", where.empty() ? "" : " ", segment, position);
  return where.empty() ? what : where + ": " + what;
}

namespace {

// "offset 12" or "offsets 12..15".
std::string offsets(std::uint64_t a, std::uint64_t b) {
  return a == b ? fmt::format("offset {}", a) : fmt::format("offsets {}..{}", a, b);
}

struct place {
  std::uint64_t off = 0;
  std::string segment;
  std::uint64_t pos = 0;
  [[nodiscard]] std::string text() const { return fmt::format("record {} (segment {}, byte {})", off, segment, pos); }
};

// The next position after pos holding a whole record with a good CRC and an offset in
// [lo, hi), searching byte by byte (the damage may have hit a length field).
std::optional<std::uint64_t> resync(const std::vector<std::uint8_t>& b, std::uint64_t pos, std::uint64_t lo,
                                    std::uint64_t hi) {
  for (std::uint64_t q = pos + 1; q + f::record_header_bytes <= b.size(); ++q) {
    const std::uint8_t* h = b.data() + q;
    std::uint64_t off = record::offset_of(h);
    if (off < lo || off >= hi) continue;
    auto flen = record::frame_length(h);
    if (!flen || q + *flen > b.size()) continue;
    if (record::parse(h, *flen)) return q;
  }
  return std::nullopt;
}

}  // namespace

result<verify_report> verify_log(const fs::path& dir, const verify_options& opts) {
  if (sodium_init() < 0) return status::unavailable("log verify: libsodium failed to initialise");
  std::error_code ec;
  std::vector<std::uint64_t> bases;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.size() == 24 && n.ends_with(".log") &&
        std::all_of(n.begin(), n.begin() + 20, [](char c) { return c >= '0' && c <= '9'; }))
      bases.push_back(std::stoull(n.substr(0, 20)));
  }
  if (ec) return status::io_error("log verify: cannot read the data directory " + dir.string() + ": " + ec.message());
  if (bases.empty())
    return status::not_found("log verify: " + dir.string() + " holds no segment files (NNNNNNNNNNNNNNNNNNNN.log); "
                             "is it the hub's --data-dir?");
  std::sort(bases.begin(), bases.end());

  std::optional<record::hash> anchor_hash;
  if (opts.anchor) {
    anchor_hash = record::from_hex(opts.anchor->hash_hex);
    if (!anchor_hash)
      return status::invalid_argument("log verify: the anchor hash must be 64 hex digits, got '" +
                                      opts.anchor->hash_hex + "'");
  }
  bool anchor_seen = false;

  verify_report r;
  r.begin = bases.front();
  std::optional<record::hash> head;      // the hash the next record must carry as prev-hash
  // The offset the next record must have; have_expected is false at the start and after
  // a bad segment header.
  bool have_expected = false;
  std::uint64_t expected = 0;
  std::optional<place> last;             // the last valid record
  std::vector<std::uint8_t> b;
  auto problem = [&r](std::optional<std::uint64_t> off, const std::string& seg, std::uint64_t pos, std::string what) {
    r.problems.push_back({off, seg, pos, std::move(what)});
  };

  for (std::size_t si = 0; si < bases.size(); ++si) {
    const std::uint64_t base = bases[si];
    const bool last_segment = si + 1 == bases.size();
    const std::string name = f::segment_name(base);
    ++r.segments;
    {
      std::ifstream in(dir / name, std::ios::binary);
      if (!in) {
        problem(std::nullopt, name, 0, "cannot open the segment file");
        head.reset();
        continue;
      }
      b.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    if (b.size() >= 8 && std::memcmp(b.data(), f::segment_magic_v1.data(), 8) == 0) {
      problem(std::nullopt, name, 0,
              "log format 1 (HUBLOG01): written before records were hash-chained; its records cannot be verified");
      head.reset();
      have_expected = false;
      continue;
    }
    const int seg_format = b.size() >= 8 ? record::segment_format(b.data()) : 0;
    if (b.size() < f::segment_header_bytes || seg_format == 0 || f::get_u64(b.data() + 8) != base) {
      problem(base, name, 0,
              "bad segment header (not a format 2 or 3 segment, or its base offset does not match its name)");
      head.reset();
      have_expected = false;
      continue;
    }
    const record::hash_kind kind = record::hash_kind_of_format(seg_format);
    record::hash header_prev{};
    std::memcpy(header_prev.data(), b.data() + 16, f::hash_bytes);
    if (si == 0 && base > 0)
      r.notes.push_back(fmt::format("the log starts at offset {} (older segments dropped by retention); the chain is "
                                    "checked from there",
                                    base));
    bool gap = false;
    if (have_expected && base > expected) {
      problem(expected, name, 0,
              fmt::format("offset gap: {} missing (the segment before ends at offset {}, this one starts at "
                          "{}): a segment or records were removed",
                          offsets(expected, base - 1), expected - 1, base));
      gap = true;
    } else if (have_expected && base < expected) {
      problem(base, name, 0,
              fmt::format("offset overlap: this segment starts at offset {} but the one before ends at {}", base,
                          expected - 1));
      gap = true;
    }
    if (head && header_prev != *head && !gap)
      problem(base, name, 0,
              fmt::format("chain break: the segment header's prev-hash does not match {}: that record was altered "
                          "after it was written, or the header was",
                          last ? last->text() : std::string("the record before")));
    head = header_prev;
    std::uint64_t next = base;  // the offset the next record of this segment must have
    bool first_in_segment = true;
    bool after_bad = false;  // the bytes before this record were unreadable: no chain check across them
    std::uint64_t pos = f::segment_header_bytes;
    while (pos < b.size()) {
      std::optional<std::size_t> flen;
      std::optional<record::parsed> rec;
      const char* why = nullptr;
      bool incomplete = false;
      if (b.size() - pos < f::record_header_bytes) {
        incomplete = true;
        why = "incomplete record";
      } else if (!(flen = record::frame_length(b.data() + pos))) {
        why = "bad record header (its length fields do not agree)";
      } else if (pos + *flen > b.size()) {
        incomplete = true;
        why = "incomplete record";
      } else if (!(rec = record::parse(b.data() + pos, *flen))) {
        why = "checksum mismatch: the record's bytes were altered or damaged";
      }
      if (why != nullptr) {
        const std::uint64_t hi = next + b.size() / f::record_header_bytes + 1;
        auto q = resync(b, pos, next, hi);
        if (!q) {
          if (incomplete && last_segment) {
            r.notes.push_back(fmt::format("segment {}: {} bytes at byte {} are an incomplete record (a torn tail: "
                                          "the hub cuts it at its next open; on a running hub, a write in flight)",
                                          name, b.size() - pos, pos));
          } else {
            problem(next, name, pos,
                    fmt::format("{}; the rest of the segment ({} bytes) holds no valid record", why, b.size() - pos));
          }
          break;
        }
        const std::uint64_t next_off = record::offset_of(b.data() + *q);
        problem(next, name, pos,
                fmt::format("{}; bytes {}..{} are not valid records{}", why, pos, *q - 1,
                            next_off > next
                                ? fmt::format(" ({} unreadable)", offsets(next, next_off - 1))
                                : std::string()));
        after_bad = true;
        next = next_off;
        pos = *q;
        continue;
      }
      const place here{rec->off, name, pos};
      bool removed = false;
      if (rec->off != next && !after_bad) {
        if (rec->off > next) {
          problem(next, name, pos,
                  fmt::format("offset gap: {} missing before offset {}: record(s) removed",
                              offsets(next, rec->off - 1), rec->off));
          removed = true;
        } else {
          problem(rec->off, name, pos, fmt::format("offset out of order: expected offset {}", next));
        }
      }
      if (!after_bad && head && rec->prev != *head) {
        if (first_in_segment && !gap)
          problem(rec->off, name, pos,
                  "chain break: the record's prev-hash does not match its segment header's (the record or the "
                  "header was altered)");
        else if (removed || (first_in_segment && gap))
          problem(rec->off, name, pos,
                  fmt::format("chain break: record {}'s prev-hash does not match {}: the records between them were "
                              "removed",
                              rec->off, last ? last->text() : std::string("the record before")));
        else if (last)
          problem(last->off, last->segment, last->pos,
                  fmt::format("chain break: record {}'s prev-hash does not match record {}: record {} was altered "
                              "after it was written (or record {}'s prev-hash was)",
                              rec->off, last->off, last->off, rec->off));
      }
      const record::hash h = record::hash_of(kind, rec->frame);
      if (anchor_hash && rec->off == opts.anchor->off) {
        anchor_seen = true;
        if (h != *anchor_hash)
          problem(rec->off, name, pos,
                  fmt::format("anchor mismatch: the record's hash is {}, the anchor says {}", record::to_hex(h),
                              opts.anchor->hash_hex));
      }
      if (opts.check_record) {
        store::record_view v{offset{rec->off}, rec->log_time, schema::Id128(rec->id_hi, rec->id_lo), rec->topic,
                             rec->envelope, rec->signature};
        if (auto bad = opts.check_record(v)) problem(rec->off, name, pos, *bad);
      }
      if (!rec->signature.empty()) ++r.signed_records;
      ++r.records;
      head = h;
      next = rec->off + 1;
      last = here;
      after_bad = false;
      first_in_segment = false;
      gap = false;
      pos += *flen;
    }
    expected = next;
    have_expected = true;
  }
  r.end = have_expected ? expected : r.begin;
  r.head = head ? record::to_hex(*head) : std::string();
  if (opts.anchor && !anchor_seen) {
    const std::uint64_t a = opts.anchor->off;
    if (a >= r.end)
      r.problems.push_back({a, "", 0,
                            fmt::format("anchor: the log ends at offset {} but the anchored record {} is gone: records "
                                        "from offset {} on were removed from the end",
                                        r.end == 0 ? 0 : r.end - 1, a, r.end)});
    else if (a < r.begin)
      r.notes.push_back(fmt::format("anchor offset {} was dropped by retention; not checked", a));
    else
      r.problems.push_back({a, "", 0, "anchor: the anchored record is missing or unreadable"});
  }
  return r;
}

}  // namespace hub::log
