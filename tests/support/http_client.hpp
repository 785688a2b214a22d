#pragma once

#include <map>
#include <string>

namespace payorch::testing {

struct HttpResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
};

// One HTTP/1.1 request to 127.0.0.1:port on a new connection (Boost.Beast, blocking, 10 s
// timeout). Throws on a connection failure.
HttpResponse HttpRequest(int port, const std::string& method, const std::string& target,
                         const std::string& body = "",
                         const std::string& content_type = "application/json");

}  // namespace payorch::testing
