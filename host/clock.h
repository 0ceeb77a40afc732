// The bridge's two clocks, in one place: monotonic milliseconds (steady clock), the time base of
// every latency figure and deadline; and wall-clock milliseconds since the epoch, for what is
// stored and shown to people.
#pragma once

#include <chrono>
#include <cstdint>

namespace earshot::host {

inline int64_t monotonic_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A monotonic_ms() value as a steady_clock deadline.
inline std::chrono::steady_clock::time_point steady_at(int64_t monotonic) {
  return std::chrono::steady_clock::time_point(std::chrono::milliseconds(monotonic));
}

}  // namespace earshot::host
