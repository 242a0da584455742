#pragma once

#include <chrono>

#include "common/model.h"

namespace parley {

inline TimestampMs nowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace parley
