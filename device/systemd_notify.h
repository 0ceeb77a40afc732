// sd_notify(3) without libsystemd: READY=1, WATCHDOG=1, STOPPING=1 to $NOTIFY_SOCKET.
// Does nothing (and costs nothing) when not started by systemd with Type=notify.
#pragma once

#include <cstdint>

namespace earshot::device {

void systemd_notify(const char* state);
// The watchdog interval systemd expects pings within ($WATCHDOG_USEC), or 0 when there is none.
int64_t systemd_watchdog_usec();

}  // namespace earshot::device
