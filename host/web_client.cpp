#include "host/web_client.h"

namespace earshot::host {

const std::string& web_client_html() {
  static const std::string page = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Earshot</title></head>
<body><h1>Earshot bridge</h1><p>The bridge is running. See /metrics and /healthz.</p></body></html>
)html";
  return page;
}

}  // namespace earshot::host
