// WyomingSatellites: the bridge dials the Wyoming satellites in its config and keeps them
// connected, as Home Assistant's Wyoming integration does (docs/wyoming.md).
//
// One thread per satellite runs its link:
//   connect ─▶ describe ─▶ info (name, area, snd_format) ─▶ run-satellite ─▶ events ⇄ door
//      ▲                                                                       │ EOF, error,
//      └── wait 1 s, 2 s, 4 s ... up to reconnect_max_ms (logged) ◀─────────────┘ silence
// The thread owns the socket: it reads and frames events (protocol/wyoming/framing.h), hands
// them to the connection's WyomingSatelliteDoor, and writes what the door queues (woken through
// a pipe). While connected it pings the satellite every 5 s when nothing else was heard, and
// gives the connection up after 15 s of silence (a satellite that lost power sends no FIN).
// The backoff starts again at 1 s after each connection that got as far as run-satellite.
//
// stop() (any thread, once): tells each satellite pause-satellite, closes, joins the threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "host/services.h"
#include "host/wyoming/wyoming_config.h"

namespace earshot::host {

class WyomingSatellites {
 public:
  WyomingSatellites(const WyomingConfig& config, Services& services);
  ~WyomingSatellites();
  WyomingSatellites(const WyomingSatellites&) = delete;
  WyomingSatellites& operator=(const WyomingSatellites&) = delete;

  void start();
  void stop();

 private:
  class Link;
  std::vector<std::unique_ptr<Link>> links_;
};

}  // namespace earshot::host
