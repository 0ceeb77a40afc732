// The bridge's address as the node dials it: ws://host[:port][/path] or wss://... (port 80 or 443
// when not given). One parser for the link that dials it and for the config check that vets it
// first, so a URL the check passes is one the link can dial.
#pragma once

#include <string>

namespace earshot::device {

struct BridgeUrl {
  bool tls = false;  // wss://
  std::string host;  // a name, an IPv4 address, or an IPv6 address in brackets
  int port = 0;
  std::string path = "/";
};

// False with `*error` saying what is wrong with `url`, e.g. "bad port in 'ws://h:99999/'".
bool parse_bridge_url(const std::string& url, BridgeUrl* out, std::string* error);

}  // namespace earshot::device
