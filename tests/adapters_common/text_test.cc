#include <catch2/catch.hpp>

#include "adapters/common/text.h"

using namespace hub::adapters;

TEST_CASE("names that differ only in case or accents or underscores or an admin word share a key", "[adapters][text]") {
  CHECK(name_key("Mount_Lebanon") == name_key("Mount Lebanon"));
  CHECK(name_key("Chocó") == "choco");
  CHECK(name_key("Barisāl Division") == "barisal division");
  CHECK(name_key("  El_Nabatieh ") == "el nabatieh");
}

TEST_CASE("zero-width and no-break spaces are removed from cell text", "[adapters][text]") {
  CHECK(clean_text("needs \xE2\x80\x8B(total)") == "needs (total)");
  CHECK(trim("\xC2\xA0 x \xE2\x80\x8B") == "x");
}

TEST_CASE("dates are read with their precision in the forms sources write", "[adapters][text]") {
  auto d = parse_date("2020-01-09T00:00:00");
  REQUIRE(d);
  CHECK(d->ms == days_to_ms(2020, 1, 9));
  CHECK(d->precision == hub::schema::PeriodPrecision::day);
  auto m = parse_date("2024-07");
  REQUIRE(m);
  CHECK(m->precision == hub::schema::PeriodPrecision::month);
  CHECK(end_of(*m) == days_to_ms(2024, 8, 1) - 1);
  auto words = parse_date("1 March 2015");
  REQUIRE(words);
  CHECK(words->ms == days_to_ms(2015, 3, 1));
  CHECK(parse_date("15/07/2024")->ms == days_to_ms(2024, 7, 15));
  CHECK_FALSE(parse_date("2024-02-30"));
  CHECK_FALSE(parse_date("June"));
  CHECK_FALSE(parse_date("text"));
}

TEST_CASE("numbers written as floats are read as whole numbers", "[adapters][text]") {
  CHECK(parse_int("250.0") == 250);
  CHECK(parse_int(" 14 ") == 14);
  CHECK_FALSE(parse_int("12a"));
  CHECK_FALSE(parse_int(""));
}

TEST_CASE("UTF-8 is recognised and Latin-1 converted", "[adapters][text]") {
  CHECK(is_utf8("Panam\xC3\xA1"));
  CHECK_FALSE(is_utf8("Panam\xE1"));
  CHECK(latin1_to_utf8("Panam\xE1") == "Panam\xC3\xA1");
}
