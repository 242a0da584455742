// Requests of PROTOCOL.md, parsed and validated into one typed struct.
// The service never sees JSON or bytes: everything here has been checked
// against the protocol's rules (types, lengths, name syntax) already.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/model.h"
#include "common/status.h"

namespace parley::protocol {

enum class Op {
  kRegister,
  kLogin,
  kResume,
  kLogout,
  kAddFriend,
  kFriends,
  kSend,
  kCreateGroup,
  kJoinGroup,
  kLeaveGroup,
  kGroups,
  kMembers,
  kGroupSend,
  kHistory,
  kAck,
  kPing,
};

const char* opName(Op op);

// Only the fields of `op` are meaningful; the others stay empty. One flat
// struct rather than a variant: each op has at most three arguments and the
// service reads them by name.
struct Request {
  Op op = Op::kPing;
  nlohmann::json rid;               // null when the client sent none
  std::string name;                 // register, login
  std::string password;             // register, login
  std::string token;                // resume
  std::string user;                 // add_friend
  std::string to;                   // send
  std::string text;                 // send, group_send
  std::string group;                // create/join/leave_group, members, group_send, history
  std::string desc;                 // create_group
  std::string with;                 // history (direct)
  std::optional<MessageId> before;  // history
  int limit = 50;                   // history
  Seq up_to = 0;                    // ack

  friend bool operator==(const Request&, const Request&) = default;
};

// Outcome of parsing one line: a request, or an error to send back (with the
// rid echoed when the line was JSON enough to carry one).
struct Parsed {
  std::optional<Request> request;
  Status error;
  nlohmann::json rid;
};

// Limits of PROTOCOL.md, in Unicode code points.
inline constexpr size_t kMaxNameChars = 32;
inline constexpr size_t kMinPasswordChars = 8;
inline constexpr size_t kMaxPasswordChars = 128;
inline constexpr size_t kMaxTextChars = 4096;
inline constexpr size_t kMaxDescChars = 200;
inline constexpr size_t kMaxTokenBytes = 128;
inline constexpr int kMaxHistoryLimit = 200;

// Parses one line (without its newline). Never throws.
Parsed parseRequest(std::string_view line);
// The same with nlohmann's parser alone, which parseRequest falls back to
// for every line simdjson refuses: the reference that tests and the fuzzer
// hold the fast path to. Identical results for every line.
Parsed parseRequestWithReferenceParser(std::string_view line);
// The same request, or the same error, with the same rid (as serialized).
bool sameOutcome(const Parsed& a, const Parsed& b);

// True for 1-32 characters of letters, digits, '_', '.', '-'.
bool isValidName(std::string_view name);
// Number of code points of valid UTF-8 `s`.
size_t utf8Length(std::string_view s);

}  // namespace parley::protocol
