// Finding the bridge on the local network when the node has no URL configured: browses mDNS/DNS-SD
// for `_earshot._tcp` (the bridge advertises it, host/wyoming/zeroconf.h) through the machine's
// avahi-daemon, resolves the first service found to an IPv4 address and port, and reads its TXT
// records (tls=1: wss://, path=/...).
//
// libavahi-client is loaded with dlopen() for the search and closed after it (device/audio/
// optional_libs.h does the same for the node's other optional libraries): a node with a URL
// configured never loads it, one that discovered its bridge does not keep it, and one on a system
// without Avahi still starts, then says here what is missing. Runs once, before the
// pipeline starts: never on the audio path.
#pragma once

#include <atomic>
#include <optional>
#include <string>

namespace earshot::device {

struct DiscoveredBridge {
  std::string name;  // the advertised service name, e.g. "Earshot on kitchen-pi"
  std::string url;   // ws://192.168.1.20:8765/ or wss://...
  bool tls = false;
};

// Browses for up to `timeout_ms` (or until `stop`). nullopt with `*error` saying why: Avahi is not
// installed, no daemon answers, or no bridge was found in time.
std::optional<DiscoveredBridge> discover_bridge(int timeout_ms, const std::atomic<bool>& stop,
                                                std::string* error);

}  // namespace earshot::device
