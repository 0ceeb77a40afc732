#include "device/link/bridge_url.h"

namespace earshot::device {

bool parse_bridge_url(const std::string& url, BridgeUrl* out, std::string* error) {
  std::string rest;
  if (url.rfind("ws://", 0) == 0) {
    out->tls = false;
    rest = url.substr(5);
  } else if (url.rfind("wss://", 0) == 0) {
    out->tls = true;
    rest = url.substr(6);
  } else {
    *error = "must start with ws:// or wss://, got '" + url + "'";
    return false;
  }
  if (rest.find_first_of(" \t\r\n") != std::string::npos) {
    *error = "spaces in '" + url + "'";
    return false;
  }
  const size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  out->path = slash == std::string::npos ? "/" : rest.substr(slash);
  out->port = out->tls ? 443 : 80;
  // The port follows the last ':' that is not inside an IPv6 address's brackets.
  const size_t bracket = hostport.rfind(']');
  const size_t colon = hostport.rfind(':');
  if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
    const std::string digits = hostport.substr(colon + 1);
    long port = 0;
    for (char c : digits) {
      if (c < '0' || c > '9' || port > 65535) {
        port = -1;
        break;
      }
      port = port * 10 + (c - '0');
    }
    if (digits.empty() || port < 1 || port > 65535) {
      *error = "bad port in '" + url + "' (1-65535)";
      return false;
    }
    out->port = int(port);
    hostport = hostport.substr(0, colon);
  }
  if (hostport.empty() || hostport == "[]") {
    *error = "no host in '" + url + "'";
    return false;
  }
  out->host = hostport;
  return true;
}

}  // namespace earshot::device
