// ClientState: what the `parley` client remembers between lines from the
// server — which request each pending rid was, the highest message seq shown
// (what to ack), message ids already shown (PROTOCOL.md: a message may come
// twice if it was not acked; show it once), and the resume token.
// It turns every server line into text for the screen. No I/O here.
#pragma once

#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace parley::client {

class ClientState {
 public:
  // Gives `request` the next rid and remembers it; returns the line to send.
  std::string prepare(nlohmann::json request);

  // Handles one line from the server; returns what to print (possibly
  // nothing, e.g. for a duplicate message).
  std::vector<std::string> onServerLine(const std::string& line);

  // An ack to send now, if messages were shown since the last one. The
  // caller calls this once per burst of incoming lines: one ack per burst.
  std::optional<std::string> takeAck();

  const std::string& user() const { return user_; }
  const std::string& token() const { return token_; }
  bool loggedIn() const { return !user_.empty(); }
  // Forget the login (after a dropped connection the token survives for resume).
  void connectionLost();
  // The request to send after reconnecting, if there is a token to resume with.
  std::optional<std::string> resumeRequest();

 private:
  std::vector<std::string> onResponse(const nlohmann::json& response);
  std::vector<std::string> onEvent(const nlohmann::json& event);
  bool firstSighting(int64_t message_id);

  int64_t next_rid_ = 1;
  std::unordered_map<int64_t, std::string> pending_;  // rid -> op
  std::string user_;
  std::string token_;
  int64_t shown_seq_ = 0;  // highest seq shown
  int64_t acked_seq_ = 0;  // highest seq acked
  // Ids already shown, bounded: duplicates only come from the unacked tail.
  std::unordered_set<int64_t> seen_ids_;
  std::deque<int64_t> seen_order_;
};

// Formatting of single values, shared with the tests.
std::string formatTime(int64_t ts_ms);  // local "HH:MM"
std::string renderMessage(const nlohmann::json& m);

}  // namespace parley::client
