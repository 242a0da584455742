// LineFields: the few fields parley-bench reads from the server's lines,
// found by scanning instead of building a JSON tree. At 100,000+ lines per
// second the bench must cost less than the server it measures; a full parse
// per line would make the bench the bottleneck. Only the bench uses this, on
// lines of a known shape (flat objects; nested objects are skipped over by the
// key search, which is good enough for "seq", "text", "rid", "ok", "token").
#pragma once

#include <cstdint>
#include <string_view>

namespace parley::bench {

// The raw value text after "key": up to the next ',' or '}' (numbers,
// booleans), or the unescaped-as-is contents of a string value. Empty when
// the key is absent.
inline std::string_view rawField(std::string_view line, std::string_view key) {
  // Search for "key": with the quotes, so "seq" does not match "xseq".
  size_t pos = 0;
  while (true) {
    pos = line.find(key, pos);
    if (pos == std::string_view::npos) return {};
    size_t end = pos + key.size();
    if (pos > 0 && line[pos - 1] == '"' && end + 1 < line.size() && line[end] == '"' &&
        line[end + 1] == ':') {
      size_t v = end + 2;
      while (v < line.size() && line[v] == ' ') ++v;
      if (v < line.size() && line[v] == '"') {
        size_t close = v + 1;
        while (close < line.size() && line[close] != '"') {
          close += line[close] == '\\' ? 2 : 1;
        }
        return line.substr(v + 1, close - v - 1);
      }
      size_t stop = line.find_first_of(",}", v);
      return line.substr(v, stop == std::string_view::npos ? line.size() - v : stop - v);
    }
    pos = end;
  }
}

inline int64_t intField(std::string_view line, std::string_view key) {
  std::string_view raw = rawField(line, key);
  int64_t v = 0;
  for (char c : raw) {
    if (c < '0' || c > '9') break;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Server lines: events carry "event" (and never "ok"); responses carry "ok".
inline bool isEvent(std::string_view line) { return line.find("\"event\":") != line.npos; }
inline bool isOk(std::string_view line) { return rawField(line, "ok") == "true"; }

}  // namespace parley::bench
