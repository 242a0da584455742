#include "protocol/request.h"

#include <array>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::protocol {
namespace {

using nlohmann::json;

struct OpEntry {
  const char* name;
  Op op;
};

constexpr std::array<OpEntry, 16> kOps = {{
    {"register", Op::kRegister},
    {"login", Op::kLogin},
    {"resume", Op::kResume},
    {"logout", Op::kLogout},
    {"add_friend", Op::kAddFriend},
    {"friends", Op::kFriends},
    {"send", Op::kSend},
    {"create_group", Op::kCreateGroup},
    {"join_group", Op::kJoinGroup},
    {"leave_group", Op::kLeaveGroup},
    {"groups", Op::kGroups},
    {"members", Op::kMembers},
    {"group_send", Op::kGroupSend},
    {"history", Op::kHistory},
    {"ack", Op::kAck},
    {"ping", Op::kPing},
}};

// The top-level members of a request object, flat: a request is one object
// of scalars, so parsing it into a JSON tree (a map node and key string per
// member) did work no one reads. Nested values are kept only as "an object"
// or "an array", which is all the validation needs to know about them.
// A repeated key keeps its last value, as a JSON tree would.
class Fields {
 public:
  const json* find(std::string_view key) const {
    for (const auto& [k, v] : members_) {
      if (k == key) return &v;
    }
    return nullptr;
  }
  void set(std::string key, json value) {
    for (auto& [k, v] : members_) {
      if (k == key) {
        v = std::move(value);
        return;
      }
    }
    members_.emplace_back(std::move(key), std::move(value));
  }

 private:
  std::vector<std::pair<std::string, json>> members_;
};

// nlohmann's SAX interface, filling Fields. Only depth 1 (the request
// object's own members) is stored; deeper values are skipped.
class FieldsSax {
 public:
  explicit FieldsSax(Fields* fields) : fields_(fields) {}

  bool null() { return scalar(json(nullptr)); }
  bool boolean(bool b) { return scalar(json(b)); }
  bool number_integer(json::number_integer_t n) { return scalar(json(n)); }
  bool number_unsigned(json::number_unsigned_t n) { return scalar(json(n)); }
  bool number_float(json::number_float_t f, const json::string_t&) { return scalar(json(f)); }
  bool string(json::string_t& s) { return scalar(json(std::move(s))); }
  bool binary(json::binary_t&) { return scalar(json(nullptr)); }  // not produced by JSON text
  bool start_object(std::size_t) { return open(json::value_t::object); }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(json::value_t::array); }
  bool end_array() { return close(); }
  bool key(json::string_t& k) {
    if (depth_ == 1) key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }

  // The whole text was one JSON object (valid only if parsing succeeded).
  bool wasObject() const { return top_ == json::value_t::object; }

 private:
  bool scalar(json value) {
    if (depth_ == 0) {
      top_ = value.type();
    } else if (depth_ == 1) {
      fields_->set(std::move(key_), std::move(value));
    }
    return true;
  }
  bool open(json::value_t type) {
    if (depth_ == 0) top_ = type;
    // A member that is itself an object or array: recorded as such (empty).
    if (depth_ == 1) fields_->set(std::move(key_), json(type));
    depth_++;
    return true;
  }
  bool close() {
    depth_--;
    return true;
  }

  Fields* fields_;
  int depth_ = 0;
  std::string key_;
  json::value_t top_ = json::value_t::discarded;
};

// Field readers: each returns an error Status naming the field, so a client
// learns exactly what was wrong with its request.
Status readString(const Fields& obj, const char* key, std::string* out, bool required = true) {
  const json* it = obj.find(key);
  if (it == nullptr || it->is_null()) {
    if (!required) return Status::Ok();
    return Status::BadRequest(std::string("missing field '") + key + "'");
  }
  if (!it->is_string()) {
    return Status::BadRequest(std::string("field '") + key + "' must be a string");
  }
  *out = it->get_ref<const std::string&>();
  return Status::Ok();
}

Status readInteger(const Fields& obj, const char* key, std::optional<int64_t>* out) {
  const json* it = obj.find(key);
  if (it == nullptr || it->is_null()) return Status::Ok();
  if (!it->is_number_integer()) {
    return Status::BadRequest(std::string("field '") + key + "' must be an integer");
  }
  // JSON has no integer limit: one past int64 (parsed as unsigned) is read
  // as the largest int64, not wrapped to a negative number. Every integer
  // field is an upper bound or range-checked, so "huge" keeps its meaning
  // (an ack of "the future" is clamped, PROTOCOL.md).
  if (it->is_number_unsigned() &&
      it->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    *out = std::numeric_limits<int64_t>::max();
  } else {
    *out = it->get<int64_t>();
  }
  return Status::Ok();
}

Status checkName(const std::string& value, const char* what) {
  if (!isValidName(value)) {
    return Status::BadRequest(std::string(what) +
                              " must be 1-32 characters: letters, digits, '_', '.', '-'");
  }
  return Status::Ok();
}

Status checkLength(const std::string& value, const char* what, size_t min, size_t max) {
  size_t n = utf8Length(value);
  if (n < min || n > max) {
    return Status::BadRequest(std::string(what) + " must be " + std::to_string(min) + "-" +
                              std::to_string(max) + " characters");
  }
  return Status::Ok();
}

#define PARLEY_RETURN_IF_ERROR(expr) \
  do {                               \
    Status _st = (expr);             \
    if (!_st.ok()) return _st;       \
  } while (0)

Status readArguments(const Fields& obj, Request* r) {
  switch (r->op) {
    case Op::kRegister:
    case Op::kLogin:
      PARLEY_RETURN_IF_ERROR(readString(obj, "name", &r->name));
      PARLEY_RETURN_IF_ERROR(readString(obj, "password", &r->password));
      if (r->op == Op::kRegister) {
        PARLEY_RETURN_IF_ERROR(checkName(r->name, "name"));
        PARLEY_RETURN_IF_ERROR(
            checkLength(r->password, "password", kMinPasswordChars, kMaxPasswordChars));
      } else if (utf8Length(r->password) > kMaxPasswordChars) {
        // Any other malformed name or password simply fails to log in
        // (unauthorized, from the service); only absurd sizes are refused here,
        // to bound the hashing work an attacker can ask for.
        return Status::BadRequest("password must be at most 128 characters");
      }
      return Status::Ok();
    case Op::kResume:
      PARLEY_RETURN_IF_ERROR(readString(obj, "token", &r->token));
      if (r->token.empty() || r->token.size() > kMaxTokenBytes) {
        return Status::BadRequest("token must be 1-128 bytes");
      }
      return Status::Ok();
    case Op::kAddFriend:
      PARLEY_RETURN_IF_ERROR(readString(obj, "user", &r->user));
      return checkName(r->user, "user");
    case Op::kSend:
      PARLEY_RETURN_IF_ERROR(readString(obj, "to", &r->to));
      PARLEY_RETURN_IF_ERROR(checkName(r->to, "to"));
      PARLEY_RETURN_IF_ERROR(readString(obj, "text", &r->text));
      return checkLength(r->text, "text", 1, kMaxTextChars);
    case Op::kCreateGroup:
      PARLEY_RETURN_IF_ERROR(readString(obj, "name", &r->group));
      PARLEY_RETURN_IF_ERROR(checkName(r->group, "name"));
      PARLEY_RETURN_IF_ERROR(readString(obj, "desc", &r->desc, /*required=*/false));
      return checkLength(r->desc, "desc", 0, kMaxDescChars);
    case Op::kJoinGroup:
    case Op::kLeaveGroup:
    case Op::kMembers:
      PARLEY_RETURN_IF_ERROR(readString(obj, "group", &r->group));
      return checkName(r->group, "group");
    case Op::kGroupSend:
      PARLEY_RETURN_IF_ERROR(readString(obj, "group", &r->group));
      PARLEY_RETURN_IF_ERROR(checkName(r->group, "group"));
      PARLEY_RETURN_IF_ERROR(readString(obj, "text", &r->text));
      return checkLength(r->text, "text", 1, kMaxTextChars);
    case Op::kHistory: {
      PARLEY_RETURN_IF_ERROR(readString(obj, "with", &r->with, /*required=*/false));
      PARLEY_RETURN_IF_ERROR(readString(obj, "group", &r->group, /*required=*/false));
      if (r->with.empty() == r->group.empty()) {
        return Status::BadRequest("history needs exactly one of 'with' or 'group'");
      }
      PARLEY_RETURN_IF_ERROR(
          checkName(r->with.empty() ? r->group : r->with, r->with.empty() ? "group" : "with"));
      std::optional<int64_t> before, limit;
      PARLEY_RETURN_IF_ERROR(readInteger(obj, "before", &before));
      PARLEY_RETURN_IF_ERROR(readInteger(obj, "limit", &limit));
      if (before && *before <= 0) return Status::BadRequest("before must be a message id > 0");
      if (limit && (*limit < 1 || *limit > kMaxHistoryLimit)) {
        return Status::BadRequest("limit must be 1-200");
      }
      r->before = before;
      if (limit) r->limit = static_cast<int>(*limit);
      return Status::Ok();
    }
    case Op::kAck: {
      std::optional<int64_t> up_to;
      PARLEY_RETURN_IF_ERROR(readInteger(obj, "up_to", &up_to));
      if (!up_to) return Status::BadRequest("missing field 'up_to'");
      if (*up_to < 0) return Status::BadRequest("up_to must be >= 0");
      r->up_to = *up_to;
      return Status::Ok();
    }
    case Op::kLogout:
    case Op::kFriends:
    case Op::kGroups:
    case Op::kPing:
      return Status::Ok();
  }
  return Status::BadRequest("unknown op");
}

}  // namespace

const char* opName(Op op) {
  for (const auto& e : kOps) {
    if (e.op == op) return e.name;
  }
  return "?";
}

bool isValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameChars) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

size_t utf8Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;  // count every byte that starts a code point
  }
  return n;
}

Parsed parseRequest(std::string_view line) {
  Parsed out;
  // The SAX parser reports any syntax error, invalid UTF-8 included, through
  // parse_error (which stops it) rather than by throwing.
  Fields obj;
  FieldsSax sax(&obj);
  if (!json::sax_parse(line.begin(), line.end(), &sax)) {
    out.error = Status::BadRequest("malformed JSON");
    return out;
  }
  if (!sax.wasObject()) {
    out.error = Status::BadRequest("a request must be a JSON object");
    return out;
  }
  if (const json* rid = obj.find("rid"); rid != nullptr) {
    if (rid->is_structured()) {
      out.error = Status::BadRequest("rid must be a scalar (string, number, boolean or null)");
      return out;
    }
    out.rid = *rid;
  }
  const json* op_it = obj.find("op");
  if (op_it == nullptr) {
    out.error = Status::BadRequest("missing field 'op'");
    return out;
  }
  if (!op_it->is_string()) {
    out.error = Status::BadRequest("field 'op' must be a string");
    return out;
  }
  const auto& op_name = op_it->get_ref<const std::string&>();
  Request request;
  bool known = false;
  for (const auto& e : kOps) {
    if (op_name == e.name) {
      request.op = e.op;
      known = true;
      break;
    }
  }
  if (!known) {
    out.error = Status::BadRequest("unknown op '" + op_name.substr(0, 64) + "'");
    return out;
  }
  Status st = readArguments(obj, &request);
  if (!st.ok()) {
    out.error = std::move(st);
    return out;
  }
  request.rid = out.rid;
  out.request = std::move(request);
  return out;
}

}  // namespace parley::protocol
