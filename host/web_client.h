// The status page served at "/": live sessions and recent turns with their stage timings (bars
// drawn by /talk/timings.js), read from /api/status every two seconds. It links to the browser
// client at /talk (host/web/).
#pragma once

#include <string>

namespace earshot::host {

// The built-in page (HTML + JavaScript in one document).
const std::string& web_client_html();

}  // namespace earshot::host
