// libFuzzer target: one line of input through the protocol layer exactly as
// the server handles it — parse and validate, then serialize whatever comes
// out (the error, or a reply echoing the rid). Any crash, sanitizer report or
// exception escaping is a bug: bad input must only ever produce an error.
// It also holds the fast parser (simdjson) to the reference (nlohmann): any
// line on which the two disagree aborts, and is kept as a crash input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "protocol/reply.h"
#include "protocol/request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  parley::protocol::Parsed parsed = parley::protocol::parseRequest(line);
  parley::protocol::Parsed reference = parley::protocol::parseRequestWithReferenceParser(line);
  if (!parley::protocol::sameOutcome(parsed, reference)) {
    std::fprintf(stderr, "simdjson and the reference parser disagree: %s vs %s\n",
                 parsed.error.message().c_str(), reference.error.message().c_str());
    std::abort();
  }
  if (!parsed.request) {
    (void)parley::protocol::serializeError(parsed.rid, parsed.error);
    return 0;
  }
  const auto& r = *parsed.request;
  (void)parley::protocol::opName(r.op);
  parley::protocol::Reply reply;
  reply.user = parley::User{1, r.name};
  reply.messages = std::vector<parley::Message>{{1, r.name, r.to, r.group, r.text, 0}};
  (void)parley::protocol::serializeOk(r.rid, reply);
  (void)parley::protocol::messageEvent(parley::Message{1, r.user, r.to, r.group, r.text, 0}, 1);
  return 0;
}
