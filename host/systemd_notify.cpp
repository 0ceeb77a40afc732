#include "host/systemd_notify.h"

#include <systemd/sd-daemon.h>

namespace earshot::host {

void systemd_notify_ready() {
  sd_notify(0, "READY=1");
}

void systemd_notify_stopping() {
  sd_notify(0, "STOPPING=1");
}

SystemdWatchdog::SystemdWatchdog() {
  uint64_t usec = 0;
  // > 0 only when $WATCHDOG_USEC is set (and $WATCHDOG_PID, if set, is this process).
  if (sd_watchdog_enabled(0, &usec) > 0) interval_ms_ = int64_t(usec / 1000);
}

void SystemdWatchdog::tick(int64_t now_ms) {
  if (interval_ms_ <= 0 || now_ms < next_ms_) return;
  sd_notify(0, "WATCHDOG=1");
  next_ms_ = now_ms + interval_ms_ / 2;
}

}  // namespace earshot::host
