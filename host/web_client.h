// The status page served at "/": live sessions and recent turns, read from /api/status every two
// seconds. (A browser that is itself a node — microphone in, replies out — is not built yet.)
#pragma once

#include <string>

namespace earshot::host {

// The built-in page (HTML + JavaScript in one document).
const std::string& web_client_html();

}  // namespace earshot::host
