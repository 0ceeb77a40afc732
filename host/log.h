// The bridge's logs: structured lines to stderr (the journal under systemd), one per event:
//   <6>level=info component=session msg="s3: reply s3-r1 interrupted (node barge-in)"
// The "<N>" prefix is the syslog priority journald reads from stderr; key=value pairs are easy to
// grep and to ship to a log collector. Nothing on a per-frame path logs.
#pragma once

namespace earshot::host {

enum class LogLevel { kError = 3, kWarning = 4, kInfo = 6, kDebug = 7 };
void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
void log_line(LogLevel level, const char* component, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

}  // namespace earshot::host

#define LOG_ERROR(component, ...) \
  ::earshot::host::log_line(::earshot::host::LogLevel::kError, component, __VA_ARGS__)
#define LOG_WARN(component, ...) \
  ::earshot::host::log_line(::earshot::host::LogLevel::kWarning, component, __VA_ARGS__)
#define LOG_INFO(component, ...) \
  ::earshot::host::log_line(::earshot::host::LogLevel::kInfo, component, __VA_ARGS__)
#define LOG_DEBUG(component, ...)                                                           \
  do {                                                                                      \
    if (::earshot::host::log_enabled(::earshot::host::LogLevel::kDebug))                    \
      ::earshot::host::log_line(::earshot::host::LogLevel::kDebug, component, __VA_ARGS__); \
  } while (0)
