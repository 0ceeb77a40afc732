// ZeroconfAdvertiser: publishes the bridge's Wyoming services as `_wyoming._tcp` over mDNS through
// the machine's avahi-daemon (libavahi-client, D-Bus), so Home Assistant discovers them.
//
// Optional by design: without a D-Bus system bus or an avahi-daemon the bridge runs on and says
// so in its log; if the daemon appears (or restarts) later, the service is published then
// (AVAHI_CLIENT_NO_FAIL). A name taken on the network gets Avahi's alternative ("name #2").
//
// Threads: Avahi's own threaded poll; start()/stop() from any one thread.
#pragma once

#include <memory>
#include <string>

namespace earshot::host {

class ZeroconfAdvertiser {
 public:
  ZeroconfAdvertiser();
  ~ZeroconfAdvertiser();
  ZeroconfAdvertiser(const ZeroconfAdvertiser&) = delete;
  ZeroconfAdvertiser& operator=(const ZeroconfAdvertiser&) = delete;

  // Starts publishing `name` on `port`. False only if Avahi's poll thread cannot start; a missing
  // daemon is not a failure (logged; published when it comes).
  bool start(const std::string& name, int port);
  void stop();

  static constexpr const char* kServiceType = "_wyoming._tcp";

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace earshot::host
