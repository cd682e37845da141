#include "hub/log/crc32c.h"

#include <catch2/catch.hpp>

#include <random>
#include <string_view>
#include <vector>

namespace {
std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
}  // namespace

TEST_CASE("crc32c matches the published check values", "[log][crc32c]") {
  CHECK(hub::log::crc32c(bytes("123456789")) == 0xE3069283u);
  CHECK(hub::log::crc32c_extend_portable(0, bytes("123456789")) == 0xE3069283u);
  CHECK(hub::log::crc32c(bytes("")) == 0u);
  std::vector<std::uint8_t> zeros(32, 0);
  CHECK(hub::log::crc32c(zeros) == 0x8A9136AAu);  // RFC 3720 B.4
}

TEST_CASE("crc32c gives the same value in one piece, in pieces, and on both code paths", "[log][crc32c]") {
  std::mt19937 rng(42);
  std::vector<std::uint8_t> data(10007);
  for (auto& b : data) b = static_cast<std::uint8_t>(rng());
  for (std::size_t len : {0u, 1u, 7u, 8u, 9u, 63u, 1000u, 10007u}) {
    auto part = std::span<const std::uint8_t>(data).first(len);
    std::uint32_t whole = hub::log::crc32c(part);
    CHECK(whole == hub::log::crc32c_extend_portable(0, part));
    std::size_t cut = len / 3;
    CHECK(whole == hub::log::crc32c_extend(hub::log::crc32c(part.first(cut)), part.subspan(cut)));
  }
}
