// Whether the server can listen where its config says, tried before lws is asked to: lws reports a
// failed bind only as a failed context (and leaks a little on that path), so the bridge binds a
// socket of its own first to name the reason — the port in use, or an address not on this machine.
#pragma once

#include <string>

namespace earshot::host {

// "" when `address`:`port` can be bound now (or cannot be judged: port 0, or an interface name
// rather than an address, which lws resolves itself); else the reason, e.g.
// "Address already in use (another process has the port)".
std::string check_can_listen(const std::string& address, int port);

}  // namespace earshot::host
