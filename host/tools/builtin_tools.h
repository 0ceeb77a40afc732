// Tools built into the bridge, because they need nothing but the bridge itself.
//   get_current_time  the current date, time, weekday and time zone where the bridge runs (its
//                     local time: the TZ environment variable, else /etc/localtime).
// Timers, alarms and announcements (issue 9) will join them here.
#pragma once

#include <ctime>
#include <memory>
#include <string>

#include "host/tools/tool_registry.h"

namespace earshot::host {

std::shared_ptr<ToolProvider> make_clock_tool();

// The clock tool's answer for `when`, in the bridge's local time zone: a JSON object with
// "date" (YYYY-MM-DD), "time" (HH:MM), "weekday", "time_zone" (abbreviation), "utc_offset"
// (+HH:MM) and "iso8601". Separate for tests.
std::string clock_tool_answer(std::time_t when);

}  // namespace earshot::host
