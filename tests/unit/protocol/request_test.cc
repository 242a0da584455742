#include "protocol/request.h"

#include <gtest/gtest.h>

#include <limits>

namespace parley::protocol {
namespace {

Parsed parse(const std::string& s) { return parseRequest(s); }

void expectBadRequest(const std::string& line, const std::string& fragment) {
  Parsed p = parse(line);
  ASSERT_FALSE(p.request.has_value()) << line;
  EXPECT_EQ(p.error.code(), Code::kBadRequest) << line;
  EXPECT_NE(p.error.message().find(fragment), std::string::npos)
      << line << " -> " << p.error.message();
}

TEST(RequestTest, ParsesRegister) {
  Parsed p = parse(R"({"op":"register","name":"alice","password":"correct horse","rid":7})");
  ASSERT_TRUE(p.request) << p.error.toString();
  EXPECT_EQ(p.request->op, Op::kRegister);
  EXPECT_EQ(p.request->name, "alice");
  EXPECT_EQ(p.request->password, "correct horse");
  EXPECT_EQ(p.request->rid, 7);
}

TEST(RequestTest, EveryOpParses) {
  const char* lines[] = {
      R"({"op":"login","name":"a","password":"x"})",
      R"({"op":"resume","token":"abc"})",
      R"({"op":"logout"})",
      R"({"op":"add_friend","user":"bob"})",
      R"({"op":"friends"})",
      R"({"op":"send","to":"bob","text":"hi"})",
      R"({"op":"create_group","name":"g","desc":"d"})",
      R"({"op":"create_group","name":"g"})",
      R"({"op":"join_group","group":"g"})",
      R"({"op":"leave_group","group":"g"})",
      R"({"op":"groups"})",
      R"({"op":"members","group":"g"})",
      R"({"op":"group_send","group":"g","text":"hi"})",
      R"({"op":"history","with":"bob"})",
      R"({"op":"history","group":"g","before":10,"limit":5})",
      R"({"op":"ack","up_to":3})",
      R"({"op":"ping"})",
  };
  for (const char* line : lines) {
    Parsed p = parse(line);
    EXPECT_TRUE(p.request.has_value()) << line << " -> " << p.error.toString();
  }
}

TEST(RequestTest, HistoryArguments) {
  Parsed p = parse(R"({"op":"history","group":"g","before":10,"limit":5})");
  ASSERT_TRUE(p.request);
  EXPECT_EQ(p.request->group, "g");
  EXPECT_EQ(*p.request->before, 10);
  EXPECT_EQ(p.request->limit, 5);
  Parsed d = parse(R"({"op":"history","with":"bob"})");
  ASSERT_TRUE(d.request);
  EXPECT_EQ(d.request->limit, 50);
  EXPECT_FALSE(d.request->before.has_value());
}

TEST(RequestTest, MalformedInput) {
  expectBadRequest("{not json", "malformed JSON");
  expectBadRequest("[1,2]", "JSON object");
  expectBadRequest("42", "JSON object");
  expectBadRequest(R"("op")", "JSON object");
  expectBadRequest(R"({"rid":1})", "missing field 'op'");
  expectBadRequest(R"({"op":5})", "'op' must be a string");
  expectBadRequest(R"({"op":"fly"})", "unknown op 'fly'");
  expectBadRequest("{\"op\":\"send\",\"to\":\"bob\",\"text\":\"\xff\xfe\"}", "malformed JSON");
}

TEST(RequestTest, OnlyTheRequestObjectsOwnMembersCount) {
  // Requests are parsed flat (no JSON tree); these are the cases where a
  // flat reading could differ from a tree's.
  expectBadRequest(R"({"op":"ping"} {"op":"ping"})", "malformed JSON");  // trailing text
  expectBadRequest(R"({"op":"ping"},)", "malformed JSON");
  expectBadRequest("", "malformed JSON");
  expectBadRequest(R"({"a":{"op":"ping"}})", "missing field 'op'");  // nested: not ours
  expectBadRequest(R"({"op":"send","to":{"x":"bob"},"text":"hi"})", "'to' must be a string");
  expectBadRequest(R"({"op":"send","to":["bob"],"text":"hi"})", "'to' must be a string");
  // Deep nesting in an unknown member is skipped, whatever it holds.
  Parsed deep = parse(R"({"op":"ping","x":[[[{"op":"send","rid":[1]}]]],"rid":7})");
  ASSERT_TRUE(deep.request) << deep.error.toString();
  EXPECT_EQ(deep.request->op, Op::kPing);
  EXPECT_EQ(deep.rid, 7);
  // A repeated key keeps its last value, as a JSON tree does.
  Parsed twice = parse(R"({"op":"ping","op":"send","to":"bob","text":"a","text":"b"})");
  ASSERT_TRUE(twice.request) << twice.error.toString();
  EXPECT_EQ(twice.request->op, Op::kSend);
  EXPECT_EQ(twice.request->text, "b");
}

TEST(RequestTest, RidIsEchoedEvenOnArgumentErrors) {
  Parsed p = parse(R"({"op":"send","rid":"abc","to":"bob"})");
  ASSERT_FALSE(p.request);
  EXPECT_EQ(p.rid, "abc");
  EXPECT_NE(p.error.message().find("'text'"), std::string::npos);
}

TEST(RequestTest, StructuredRidIsRejected) {
  expectBadRequest(R"({"op":"ping","rid":{"a":1}})", "rid must be a scalar");
  expectBadRequest(R"({"op":"ping","rid":[1]})", "rid must be a scalar");
}

TEST(RequestTest, FieldTypesAndLimits) {
  expectBadRequest(R"({"op":"register","name":"alice"})", "missing field 'password'");
  expectBadRequest(R"({"op":"register","name":1,"password":"12345678"})", "must be a string");
  expectBadRequest(R"({"op":"register","name":"al ice","password":"12345678"})", "1-32");
  expectBadRequest(R"({"op":"register","name":"alice","password":"short"})", "8-128");
  expectBadRequest(
      R"({"op":"register","name":"abcdefghijklmnopqrstuvwxyz0123456","password":"12345678"})",
      "1-32");
  expectBadRequest(R"({"op":"send","to":"bob","text":""})", "1-4096");
  std::string long_text(4097, 'x');
  expectBadRequest(R"({"op":"send","to":"bob","text":")" + long_text + "\"}", "1-4096");
  std::string max_text(4096, 'x');
  EXPECT_TRUE(parse(R"({"op":"send","to":"bob","text":")" + max_text + "\"}").request);
  expectBadRequest(R"({"op":"history","with":"bob","limit":0})", "limit must be 1-200");
  expectBadRequest(R"({"op":"history","with":"bob","limit":201})", "limit must be 1-200");
  expectBadRequest(R"({"op":"history","with":"bob","limit":"5"})", "must be an integer");
  expectBadRequest(R"({"op":"history"})", "exactly one");
  expectBadRequest(R"({"op":"history","with":"a","group":"g"})", "exactly one");
  expectBadRequest(R"({"op":"ack"})", "up_to");
  expectBadRequest(R"({"op":"ack","up_to":-1})", "up_to");
  expectBadRequest(R"({"op":"ack","up_to":1.5})", "must be an integer");
  // Past int64 (JSON has no limit): the largest int64, clamped later like
  // any ack of "the future", not wrapped to a negative number.
  auto huge = parse(R"({"op":"ack","up_to":18446744073709551615})");
  ASSERT_TRUE(huge.request);
  EXPECT_EQ(huge.request->up_to, std::numeric_limits<int64_t>::max());
  expectBadRequest(R"({"op":"history","with":"bob","limit":9223372036854775808})",
                   "limit must be 1-200");
  std::string long_desc(201, 'd');
  expectBadRequest(R"({"op":"create_group","name":"g","desc":")" + long_desc + "\"}",
                   "desc must be 0-200");
}

TEST(RequestTest, LengthsCountCharactersNotBytes) {
  // 4096 three-byte characters are 4096 characters: allowed.
  std::string text;
  for (int i = 0; i < 4096; ++i) text += "\xe2\x82\xac";  // U+20AC
  EXPECT_TRUE(parse(R"({"op":"send","to":"bob","text":")" + text + "\"}").request);
  EXPECT_EQ(utf8Length("\xe2\x82\xac"
                       "a"),
            2u);
}

TEST(RequestTest, NameRule) {
  EXPECT_TRUE(isValidName("a"));
  EXPECT_TRUE(isValidName("Alice_1.b-c"));
  EXPECT_FALSE(isValidName(""));
  EXPECT_FALSE(isValidName("a b"));
  EXPECT_FALSE(isValidName("a'; DROP TABLE users;--"));
  EXPECT_FALSE(isValidName(std::string(33, 'a')));
  EXPECT_TRUE(isValidName(std::string(32, 'a')));
}

}  // namespace
}  // namespace parley::protocol
