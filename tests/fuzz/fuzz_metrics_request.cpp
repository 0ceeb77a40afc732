// Fuzzes the node's metrics endpoint's request-line reader (device/metrics_endpoint.h): whatever
// connects to the port is read there. Checks beyond "no crash": the answer is one of the three
// values, and "metrics" only for a request line that really names /metrics.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "device/metrics_endpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view request(reinterpret_cast<const char*>(data), size);
  const std::string_view target = earshot::device::metrics_request_target(request);
  if (target != "" && target != "metrics" && target != "other") abort();
  if (target == "metrics" && request.find(" /metrics") == std::string_view::npos) abort();
  return 0;
}
