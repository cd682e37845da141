// The strategy adapter: a political strategy written as YAML -> PoliticalStrategy
// (entity coordination). See MAPPING.md for the file format.
#pragma once

#include "adapters/common/adapter.h"

namespace hub::adapters::strategy {

// Name "strategy-adapter", entity coordination, default classification internal, one
// source kind "strategy-yaml" (.yaml/.yml; several strategies as YAML documents).
[[nodiscard]] const adapter_definition& definition();

}  // namespace hub::adapters::strategy
