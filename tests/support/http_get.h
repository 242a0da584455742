// A blocking HTTP/1.1 client for tests: one request per connection
// ("Connection: close"), the whole answer read until the server closes.
#pragma once

#include <cstdint>
#include <string>

namespace parley::testing {

struct HttpResponse {
  int status = 0;       // 0 when the request failed (no connection, no answer)
  std::string headers;  // the raw header block (lower-case lookups via header())
  std::string body;
  // The value of header `name` (case-insensitive), or "".
  std::string header(const std::string& name) const;
};

// Sends `method target` to 127.0.0.1:port and returns the answer (5 s timeout).
HttpResponse httpRequest(uint16_t port, const std::string& method, const std::string& target);
inline HttpResponse httpGet(uint16_t port, const std::string& target) {
  return httpRequest(port, "GET", target);
}

}  // namespace parley::testing
