#include "host/tools/builtin_tools.h"

#include <nlohmann/json.hpp>

namespace earshot::host {
namespace {

constexpr const char* kClockTool = "get_current_time";

class ClockTool : public ToolProvider {
 public:
  std::string name() const override { return "builtin"; }
  std::vector<ToolSpec> list(const ToolScope&) override {
    return {{kClockTool,
             "The current local date, time, weekday and time zone. Use it for any question about "
             "the time or the date.",
             R"({"type":"object","properties":{}})"}};
  }
  ToolResult call(const ToolScope&, const std::string& name, const std::string&, const CancelToken&,
                  std::chrono::steady_clock::time_point) override {
    if (name != kClockTool) return {false, "error: unknown tool " + name};
    return {true, clock_tool_answer(std::time(nullptr))};
  }
};

}  // namespace

std::string clock_tool_answer(std::time_t when) {
  std::tm local{};
  localtime_r(&when, &local);
  char date[16], time[8], weekday[16], zone[16], offset[8], iso[40];
  strftime(date, sizeof date, "%Y-%m-%d", &local);
  strftime(time, sizeof time, "%H:%M", &local);
  strftime(weekday, sizeof weekday, "%A", &local);
  strftime(zone, sizeof zone, "%Z", &local);
  strftime(offset, sizeof offset, "%z", &local);  // +HHMM
  const std::string utc_offset = std::string(offset, 3) + ":" + std::string(offset + 3, 2);
  strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S", &local);
  const nlohmann::json answer = {{"date", date},
                                 {"time", time},
                                 {"weekday", weekday},
                                 {"time_zone", zone},
                                 {"utc_offset", utc_offset},
                                 {"iso8601", std::string(iso) + utc_offset}};
  return answer.dump();
}

std::shared_ptr<ToolProvider> make_clock_tool() {
  return std::make_shared<ClockTool>();
}

}  // namespace earshot::host
