// The web client page served at "/": a browser becomes a node (microphone in, replies out).
#pragma once

#include <string>

namespace earshot::host {

// The built-in page (HTML + JavaScript in one document).
const std::string& web_client_html();

}  // namespace earshot::host
