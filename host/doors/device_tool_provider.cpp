#include "host/doors/device_tool_provider.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>

namespace earshot::host {

namespace {
constexpr auto kCancelPoll = std::chrono::milliseconds(20);
constexpr size_t kMaxModelName = 64;
}  // namespace

std::string model_tool_name(const std::string& device_tool_name) {
  std::string out = device_tool_name.substr(0, kMaxModelName);
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return out;
}

DeviceToolProvider::DeviceToolProvider(std::shared_ptr<DeviceTools> tools, std::string device)
    : tools_(std::move(tools)), device_(std::move(device)) {}

std::vector<ToolSpec> DeviceToolProvider::list(const ToolScope&) {
  std::vector<ToolSpec> out;
  for (const auto& t : tools_->tools())
    out.push_back(ToolSpec{model_tool_name(t.name), t.description, t.input_schema});
  return out;
}

ToolResult DeviceToolProvider::call(const ToolScope&, const std::string& name,
                                    const std::string& arguments, const CancelToken& cancel,
                                    std::chrono::steady_clock::time_point deadline) {
  std::string device_name;
  for (const auto& t : tools_->tools())
    if (model_tool_name(t.name) == name) device_name = t.name;
  if (device_name.empty()) return {false, "error: the device offers no tool \"" + name + "\""};

  struct Wait {
    std::mutex mutex;
    std::condition_variable done_cv;
    bool done = false;
    DeviceTools::Outcome outcome;
  };
  auto wait = std::make_shared<Wait>();  // the answer may come after this call gave up
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  tools_->call(device_name, arguments, int(std::max<int64_t>(1, left.count())),
               [wait](const DeviceTools::Outcome& o) {
                 std::lock_guard<std::mutex> lock(wait->mutex);
                 wait->outcome = o;
                 wait->done = true;
                 wait->done_cv.notify_all();
               });
  std::unique_lock<std::mutex> lock(wait->mutex);
  while (!wait->done) {
    if (cancel.cancelled()) return {false, "error: cancelled"};
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return {false, "error: the device did not answer in time"};
    wait->done_cv.wait_until(lock, std::min(deadline, now + kCancelPoll));
  }
  const DeviceTools::Outcome& o = wait->outcome;
  return {o.ok, o.ok ? o.text : "error: " + o.text};
}

}  // namespace earshot::host
