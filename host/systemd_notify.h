// The bridge's side of systemd's notify protocol (sd_notify(3), from libsystemd): READY=1 once it
// listens, WATCHDOG=1 from the event loop while it turns, STOPPING=1 when it drains. The unit is
// Type=notify with WatchdogSec=, so a bridge whose loop wedges is restarted. Nothing is sent
// when systemd did not start the bridge that way (no $NOTIFY_SOCKET, no $WATCHDOG_USEC).
#pragma once

#include <cstdint>

namespace earshot::host {

void systemd_notify_ready();
void systemd_notify_stopping();

// Pings the watchdog at half the interval systemd asked for. Owned and called by one thread: the
// event loop, whose turning is what it vouches for.
class SystemdWatchdog {
 public:
  SystemdWatchdog();  // reads the interval from the environment (sd_watchdog_enabled)
  bool enabled() const { return interval_ms_ > 0; }
  // Called on every tick of the loop; sends WATCHDOG=1 when half the interval has passed.
  void tick(int64_t now_ms);

 private:
  int64_t interval_ms_ = 0;
  int64_t next_ms_ = 0;
};

}  // namespace earshot::host
