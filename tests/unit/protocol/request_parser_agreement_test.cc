// parseRequest reads lines with simdjson and hands every line simdjson
// refuses to nlohmann's parser. Its results must be exactly those of
// nlohmann's parser alone (parseRequestWithReferenceParser), which the
// protocol's documented edge cases were written against: the same request
// or the same error, and the same rid. Checked here on hand-picked edge
// cases and on seeded random mutations of valid requests; the request fuzzer
// checks the same on whatever it generates.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "protocol/request.h"

namespace parley::protocol {
namespace {

// Where the two parsers disagree on `line`: "" if they agree.
std::string disagreement(const std::string& line) {
  Parsed fast = parseRequest(line);
  Parsed reference = parseRequestWithReferenceParser(line);
  if (sameOutcome(fast, reference)) return "";
  auto describe = [](const Parsed& p) {
    return (p.request ? std::string("a request") : "error '" + p.error.message() + "'") + ", rid " +
           p.rid.dump();
  };
  return "simdjson path: " + describe(fast) + "; reference: " + describe(reference);
}

std::string deeplyNested(int depth) {
  return R"({"op":"ping","x":)" + std::string(depth, '[') + std::string(depth, ']') + "}";
}

const std::vector<std::string>& edgeCases() {
  static const std::vector<std::string> lines = {
      // Valid requests, as clients send them.
      R"({"op":"send","to":"bob","text":"hi","rid":"a"})",
      R"({"op":"ack","up_to":3,"rid":12})",
      R"({"op":"history","with":"bob","before":10,"limit":5})",
      R"({"op":"send","to":"bob","text":"\u00e9\ud83d\ude00 \"quoted\" \\ \/ \b\f\n\r\t"})",
      "  {\"op\" : \"ping\" }\r",
      "\t{\"op\":\"ping\"}\t ",
      // A byte order mark, which nlohmann skips.
      "\xEF\xBB\xBF{\"op\":\"ping\",\"rid\":1}",
      "\xEF\xBB\xBF",
      "\xEF\xBB",
      // Numbers: the 64-bit edges, past them, and the double edges.
      R"({"op":"ping","rid":9223372036854775807})",
      R"({"op":"ping","rid":9223372036854775808})",
      R"({"op":"ping","rid":18446744073709551615})",
      R"({"op":"ping","rid":18446744073709551616})",
      R"({"op":"ping","rid":99999999999999999999999})",
      R"({"op":"ping","rid":-9223372036854775808})",
      R"({"op":"ping","rid":-9223372036854775809})",
      R"({"op":"ping","rid":-0})",
      R"({"op":"ping","rid":-0.0})",
      R"({"op":"ping","rid":1.50})",
      R"({"op":"ping","rid":1E2})",
      R"({"op":"ping","rid":1e400})",
      R"({"op":"ping","rid":-1e400})",
      R"({"op":"ping","rid":1e-400})",
      R"({"op":"ping","rid":4.9e-324})",
      R"({"op":"ping","rid":0.1e1})",
      R"({"op":"ack","up_to":18446744073709551615})",
      R"({"op":"ack","up_to":18446744073709551616})",
      R"({"op":"ack","up_to":-9223372036854775809})",
      R"({"op":"ack","up_to":3.0})",
      R"({"op":"history","group":"g","limit":1e2})",
      R"({"op":"ping","x":123456789012345678901234567890})",
      // Malformed numbers.
      R"({"op":"ping","rid":01})",
      R"({"op":"ping","rid":1.})",
      R"({"op":"ping","rid":.5})",
      R"({"op":"ping","rid":+1})",
      R"({"op":"ping","rid":-})",
      R"({"op":"ping","rid":1e})",
      R"({"op":"ping","rid":1e+})",
      R"({"op":"ping","rid":NaN})",
      R"({"op":"ping","rid":Infinity})",
      R"({"op":"ping","rid":0x10})",
      // Repeated keys: the last one counts.
      R"({"op":"send","op":"ping"})",
      R"({"op":"ping","rid":1,"rid":"two"})",
      R"({"op":"ping","rid":[1],"rid":3})",
      R"({"op":"ping","rid":3,"rid":{}})",
      R"({"op":"send","to":"bob","text":"a","text":null})",
      // Escaped keys, nested values, deep nesting.
      R"({"o\u0070":"ping"})",
      R"({"op":"ping","x":{"op":"send","rid":[1,{"a":null}]}})",
      deeplyNested(1000),
      deeplyNested(1100),
      deeplyNested(5000),
      // Strings: escapes, surrogates, invalid UTF-8, control characters.
      R"({"op":"ping","rid":"\ud800"})",
      R"({"op":"ping","rid":"\udc00"})",
      R"({"op":"ping","rid":"\ud800\u0041"})",
      R"({"op":"ping","rid":"\ud800\ud800"})",
      R"({"op":"ping","rid":"\ud83d\ude00"})",
      R"({"op":"ping","rid":"\u0000"})",
      R"({"op":"ping","rid":"\x"})",
      R"({"op":"ping","rid":"\u12"})",
      R"({"op":"ping","rid":"\uZZZZ"})",
      "{\"op\":\"ping\",\"rid\":\"\xff\"}",
      "{\"op\":\"ping\",\"rid\":\"\xc0\xaf\"}",
      "{\"op\":\"ping\",\"rid\":\"\xed\xa0\x80\"}",
      "{\"op\":\"ping\",\"rid\":\"\xf4\x90\x80\x80\"}",
      "{\"op\":\"ping\",\"rid\":\"\xe2\x82\"}",
      "{\"op\":\"ping\",\"rid\":\"\xf0\x9f\x98\x80\"}",
      "{\"op\":\"ping\",\"rid\":\"a\x01b\"}",
      "{\"op\":\"ping\",\"rid\":\"a\tb\"}",
      "{\"op\":\"ping\",\"rid\":\"a\x7f\"}",
      std::string("{\"op\":\"ping\",\"rid\":\"a\0b\"}", 24),
      std::string("{\"op\":\"ping\"}\0", 14),
      std::string("\0{\"op\":\"ping\"}", 14),
      // Not one object.
      "",
      " ",
      "\r",
      "1",
      "\"x\"",
      "null",
      "true",
      "[]",
      "[1,2]",
      "{}",
      "{} ",
      "{}{}",
      R"({"op":"ping"} x)",
      R"({"op":"ping"},)",
      R"({"op":"ping"}])",
      "{\"op\":\"ping\"}\f",
      // Broken structure and literals.
      "{",
      "}",
      "{\"op\"",
      "{\"op\":}",
      "{\"op\":\"ping\",}",
      "{,}",
      "{\"op\" \"ping\"}",
      "{'op':'ping'}",
      "{op:\"ping\"}",
      R"({"op":"ping","x":tru})",
      R"({"op":"ping","x":nul})",
      R"({"op":"ping","x":falsee})",
      R"({"op":"ping","x":[1,]})",
      R"({"op":"ping","x":[1 2]})",
      R"({"op":"ping" /* c */})",
      // Field types and limits, which the validation after the parse decides.
      R"({"op":"send","to":"bob","text":""})",
      R"({"op":"send","to":"bob","text":5})",
      R"({"op":"send","to":"b o b","text":"x"})",
      R"({"op":"resume","token":""})",
      R"({"op":"bogus"})",
      R"({"op":5})",
      R"({"rid":1})",
  };
  return lines;
}

TEST(RequestParserAgreementTest, EdgeCases) {
  for (const std::string& line : edgeCases()) {
    EXPECT_EQ(disagreement(line), "") << "line: " << line;
  }
}

// Random edits of valid requests and of the edge cases: flipped, inserted,
// deleted and duplicated bytes, favouring the bytes JSON's grammar turns on.
TEST(RequestParserAgreementTest, MutatedLines) {
  std::vector<std::string> seeds = edgeCases();
  std::mt19937 random(20261202);  // fixed: a failure reproduces
  const std::string interesting = "{}[]\":,\\ -+.0123456789eEu\x01\x7f\x80\xbf\xc3\xed\xf0\xff";
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(random); };
  int checked = 0;
  for (int i = 0; i < 30'000; ++i) {
    std::string line = seeds[pick(seeds.size())];
    int edits = 1 + static_cast<int>(pick(4));
    for (int e = 0; e < edits; ++e) {
      size_t at = line.empty() ? 0 : pick(line.size() + 1);
      switch (pick(4)) {
        case 0:
          if (at < line.size()) line[at] = interesting[pick(interesting.size())];
          break;
        case 1:
          line.insert(at, 1, interesting[pick(interesting.size())]);
          break;
        case 2:
          if (at < line.size()) line.erase(at, 1 + pick(3));
          break;
        default:
          if (at < line.size()) line.insert(at, line.substr(at, 1 + pick(8)));
          break;
      }
    }
    std::string diff = disagreement(line);
    ASSERT_EQ(diff, "") << "line: " << line;
    ++checked;
  }
  EXPECT_EQ(checked, 30'000);
}

// The documented number edges (docs/protocol.md) still hold on the fast path.
TEST(RequestParserAgreementTest, RidNumbersAsDocumented) {
  EXPECT_EQ(parseRequest(R"({"op":"ping","rid":18446744073709551615})").rid.dump(),
            "18446744073709551615");
  EXPECT_EQ(parseRequest(R"({"op":"ping","rid":-9223372036854775808})").rid.dump(),
            "-9223372036854775808");
  EXPECT_EQ(parseRequest(R"({"op":"ping","rid":1.50})").rid.dump(), "1.5");
  EXPECT_EQ(parseRequest(R"({"op":"ping","rid":-9223372036854775809})").rid.dump(),
            "-9.223372036854776e+18");
  Parsed overflow = parseRequest(R"({"op":"ping","rid":1e400})");
  EXPECT_FALSE(overflow.request);
  EXPECT_EQ(overflow.error.message(), "malformed JSON");
}

}  // namespace
}  // namespace parley::protocol
