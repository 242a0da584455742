#include "protocol/request.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <boost/container/small_vector.hpp>
#include <cstdint>
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

// One top-level member of a request object. A request is one object of
// scalars, so that is all the validation reads: nested values are kept only
// as "an object" or "an array". Strings point into the parsed document,
// which outlives the Fields.
struct FieldValue {
  enum class Kind : uint8_t { kNull, kBool, kSigned, kUnsigned, kDouble, kString, kObject, kArray };
  Kind kind = Kind::kNull;
  bool boolean = false;
  int64_t signed_value = 0;
  uint64_t unsigned_value = 0;  // only past INT64_MAX (simdjson), any >= 0 (nlohmann)
  double double_value = 0;
  std::string_view string;
};

// The request object's members, flat. A repeated key keeps its last value,
// as nlohmann's tree does.
class Fields {
 public:
  const FieldValue* find(std::string_view key) const {
    for (const auto& [k, v] : members_) {
      if (k == key) return &v;
    }
    return nullptr;
  }
  void set(std::string_view key, const FieldValue& value) {
    for (auto& [k, v] : members_) {
      if (k == key) {
        v = value;
        return;
      }
    }
    members_.emplace_back(key, value);
  }

 private:
  // Requests have at most five members; more go to the heap.
  boost::container::small_vector<std::pair<std::string_view, FieldValue>, 6> members_;
};

FieldValue fromElement(simdjson::dom::element element) {
  using Type = simdjson::dom::element_type;
  FieldValue v;
  switch (element.type()) {
    case Type::ARRAY:
      v.kind = FieldValue::Kind::kArray;
      break;
    case Type::OBJECT:
      v.kind = FieldValue::Kind::kObject;
      break;
    case Type::INT64:
      v.kind = FieldValue::Kind::kSigned;
      v.signed_value = element.get_int64().value_unsafe();
      break;
    case Type::UINT64:
      v.kind = FieldValue::Kind::kUnsigned;
      v.unsigned_value = element.get_uint64().value_unsafe();
      break;
    case Type::DOUBLE:
      v.kind = FieldValue::Kind::kDouble;
      v.double_value = element.get_double().value_unsafe();
      break;
    case Type::STRING:
      v.kind = FieldValue::Kind::kString;
      v.string = element.get_string().value_unsafe();
      break;
    case Type::BOOL:
      v.kind = FieldValue::Kind::kBool;
      v.boolean = element.get_bool().value_unsafe();
      break;
    case Type::NULL_VALUE:
      break;
  }
  return v;
}

FieldValue fromJson(const json& value) {
  FieldValue v;
  switch (value.type()) {
    case json::value_t::array:
      v.kind = FieldValue::Kind::kArray;
      break;
    case json::value_t::object:
      v.kind = FieldValue::Kind::kObject;
      break;
    case json::value_t::number_integer:
      v.kind = FieldValue::Kind::kSigned;
      v.signed_value = value.get<int64_t>();
      break;
    case json::value_t::number_unsigned:
      v.kind = FieldValue::Kind::kUnsigned;
      v.unsigned_value = value.get<uint64_t>();
      break;
    case json::value_t::number_float:
      v.kind = FieldValue::Kind::kDouble;
      v.double_value = value.get<double>();
      break;
    case json::value_t::string:
      v.kind = FieldValue::Kind::kString;
      v.string = value.get_ref<const std::string&>();
      break;
    case json::value_t::boolean:
      v.kind = FieldValue::Kind::kBool;
      v.boolean = value.get<bool>();
      break;
    case json::value_t::null:
    case json::value_t::binary:     // not produced from JSON text
    case json::value_t::discarded:  // not produced by a successful parse
      break;
  }
  return v;
}

// The rid, echoed as the client sent it (a scalar).
json toJson(const FieldValue& v) {
  switch (v.kind) {
    case FieldValue::Kind::kBool:
      return json(v.boolean);
    case FieldValue::Kind::kSigned:
      return json(v.signed_value);
    case FieldValue::Kind::kUnsigned:
      return json(v.unsigned_value);
    case FieldValue::Kind::kDouble:
      return json(v.double_value);
    case FieldValue::Kind::kString:
      return json(std::string(v.string));
    case FieldValue::Kind::kNull:
    case FieldValue::Kind::kObject:
    case FieldValue::Kind::kArray:
      break;
  }
  return json(nullptr);
}

enum class LineShape { kMalformed, kNotObject, kObject };

// nlohmann's parser: the reference. It decides every line simdjson refuses,
// and `tree` holds what the Fields point to.
LineShape readFieldsWithTree(std::string_view line, json* tree, Fields* fields) {
  // Any syntax error, invalid UTF-8 included, makes a discarded value rather
  // than an exception.
  *tree = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (tree->is_discarded()) return LineShape::kMalformed;
  if (!tree->is_object()) return LineShape::kNotObject;
  for (const auto& [key, value] : tree->items()) fields->set(key, fromJson(value));
  return LineShape::kObject;
}

// simdjson for the common case: ~5x fewer instructions than nlohmann's lexer,
// and no allocation once this thread's parser and buffer have grown.
LineShape readFields(std::string_view line, json* tree, Fields* fields) {
  // simdjson reads up to SIMDJSON_PADDING bytes past the end: the line is
  // copied into a buffer that has them.
  thread_local std::vector<char> buffer;
  thread_local simdjson::dom::parser parser;
  std::string_view text = line;
  // nlohmann skips a leading byte order mark; simdjson leaves that to us.
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  if (buffer.size() < text.size() + simdjson::SIMDJSON_PADDING) {
    buffer.resize(text.size() + simdjson::SIMDJSON_PADDING);
  }
  std::copy(text.begin(), text.end(), buffer.begin());
  simdjson::dom::element document;
  if (parser.parse(buffer.data(), text.size(), /*realloc_if_needed=*/false).get(document) !=
      simdjson::SUCCESS) {
    // simdjson refuses some valid JSON that nlohmann reads: integers past 64
    // bits (read as doubles), nesting deeper than 1,024. Bad lines are rare
    // enough to be parsed twice, so the reference has the last word on each.
    return readFieldsWithTree(line, tree, fields);
  }
  simdjson::dom::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) return LineShape::kNotObject;
  for (simdjson::dom::key_value_pair member : object) {
    fields->set(member.key, fromElement(member.value));
  }
  return LineShape::kObject;
}

// Field readers: each returns an error Status naming the field, so a client
// learns exactly what was wrong with its request.
Status readString(const Fields& obj, const char* key, std::string* out, bool required = true) {
  const FieldValue* it = obj.find(key);
  if (it == nullptr || it->kind == FieldValue::Kind::kNull) {
    if (!required) return Status::Ok();
    return Status::BadRequest(std::string("missing field '") + key + "'");
  }
  if (it->kind != FieldValue::Kind::kString) {
    return Status::BadRequest(std::string("field '") + key + "' must be a string");
  }
  out->assign(it->string);
  return Status::Ok();
}

Status readInteger(const Fields& obj, const char* key, std::optional<int64_t>* out) {
  const FieldValue* it = obj.find(key);
  if (it == nullptr || it->kind == FieldValue::Kind::kNull) return Status::Ok();
  if (it->kind == FieldValue::Kind::kSigned) {
    *out = it->signed_value;
    return Status::Ok();
  }
  if (it->kind != FieldValue::Kind::kUnsigned) {
    return Status::BadRequest(std::string("field '") + key + "' must be an integer");
  }
  // JSON has no integer limit: one past int64 (parsed as unsigned) is read
  // as the largest int64, not wrapped to a negative number. Every integer
  // field is an upper bound or range-checked, so "huge" keeps its meaning
  // (an ack of "the future" is clamped, PROTOCOL.md).
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  *out = static_cast<int64_t>(std::min(it->unsigned_value, kMax));
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

namespace {

Parsed parseLine(std::string_view line, bool reference_parser) {
  Parsed out;
  json tree;  // what the Fields point to when nlohmann parsed the line
  Fields obj;
  LineShape shape =
      reference_parser ? readFieldsWithTree(line, &tree, &obj) : readFields(line, &tree, &obj);
  if (shape == LineShape::kMalformed) {
    out.error = Status::BadRequest("malformed JSON");
    return out;
  }
  if (shape == LineShape::kNotObject) {
    out.error = Status::BadRequest("a request must be a JSON object");
    return out;
  }
  if (const FieldValue* rid = obj.find("rid"); rid != nullptr) {
    if (rid->kind == FieldValue::Kind::kObject || rid->kind == FieldValue::Kind::kArray) {
      out.error = Status::BadRequest("rid must be a scalar (string, number, boolean or null)");
      return out;
    }
    out.rid = toJson(*rid);
  }
  const FieldValue* op_it = obj.find("op");
  if (op_it == nullptr) {
    out.error = Status::BadRequest("missing field 'op'");
    return out;
  }
  if (op_it->kind != FieldValue::Kind::kString) {
    out.error = Status::BadRequest("field 'op' must be a string");
    return out;
  }
  std::string_view op_name = op_it->string;
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
    out.error = Status::BadRequest("unknown op '" + std::string(op_name.substr(0, 64)) + "'");
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

}  // namespace

Parsed parseRequest(std::string_view line) { return parseLine(line, /*reference_parser=*/false); }

Parsed parseRequestWithReferenceParser(std::string_view line) {
  return parseLine(line, /*reference_parser=*/true);
}

bool sameOutcome(const Parsed& a, const Parsed& b) {
  return a.request == b.request && a.error.code() == b.error.code() &&
         a.error.message() == b.error.message() && a.rid.dump() == b.rid.dump() &&
         (!a.request || a.request->rid.dump() == b.request->rid.dump());
}

}  // namespace parley::protocol
