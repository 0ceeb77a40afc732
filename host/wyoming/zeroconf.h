// ZeroconfAdvertiser: publishes one of the bridge's services over mDNS/DNS-SD through the machine's
// avahi-daemon (libavahi-client, D-Bus): its Wyoming services as `_wyoming._tcp`, so Home
// Assistant discovers them, and its earshot.v1 port as `_earshot._tcp` (with TXT records saying
// the protocol version and whether TLS is on), so a node with no URL configured finds it.
//
// Optional by design: without a D-Bus system bus or an avahi-daemon the bridge runs on and says
// so in its log; if the daemon appears (or restarts) later, the service is published then
// (AVAHI_CLIENT_NO_FAIL). A name taken on the network gets Avahi's alternative ("name #2").
//
// Threads: Avahi's own threaded poll; start()/stop() from any one thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace earshot::host {

class ZeroconfAdvertiser {
 public:
  ZeroconfAdvertiser();
  ~ZeroconfAdvertiser();
  ZeroconfAdvertiser(const ZeroconfAdvertiser&) = delete;
  ZeroconfAdvertiser& operator=(const ZeroconfAdvertiser&) = delete;

  struct Service {
    std::string name;  // e.g. "Earshot on kitchen-pi"
    std::string type;  // e.g. "_earshot._tcp"
    int port = 0;
    std::vector<std::string> txt;  // "key=value" TXT records
    std::string what;              // for the log, e.g. "the Wyoming services"
  };
  // Starts publishing `service`. False only if Avahi's poll thread cannot start; a missing daemon
  // is not a failure (logged; published when it comes).
  bool start(Service service);
  // The Wyoming services: `name` on `port` as kServiceType.
  bool start(const std::string& name, int port);
  void stop();

  static constexpr const char* kServiceType = "_wyoming._tcp";

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace earshot::host
