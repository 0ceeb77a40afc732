#include "host/log.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <string>

namespace earshot::host {
namespace {
std::atomic<int> g_level{int(LogLevel::kInfo)};
}

void set_log_level(LogLevel level) {
  g_level.store(int(level));
}
bool log_enabled(LogLevel level) {
  return int(level) <= g_level.load(std::memory_order_relaxed);
}

void log_line(LogLevel level, const char* component, const char* format, ...) {
  if (!log_enabled(level)) return;
  char message[1024];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  va_end(args);
  // Quote the message so key=value parsers keep it whole.
  std::string quoted;
  for (const char* p = message; *p; ++p) {
    if (*p == '"' || *p == '\\') quoted += '\\';
    quoted += (*p == '\n') ? ' ' : *p;
  }
  static const char* const kNames[] = {"", "", "", "error", "warning", "", "info", "debug"};
  fprintf(stderr, "<%d>level=%s component=%s msg=\"%s\"\n", int(level), kNames[int(level)],
          component, quoted.c_str());
}

}  // namespace earshot::host
