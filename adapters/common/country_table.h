// Private: the ISO 3166-1 rows behind geo.h's country functions.
#pragma once

#include <cstddef>

namespace hub::adapters::detail {

struct country_row {
  const char* alpha2;
  const char* alpha3;
  int numeric;
  const char* name;
};

extern const country_row country_rows[];
extern const std::size_t country_row_count;

}  // namespace hub::adapters::detail
