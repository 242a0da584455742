// parley-micro: Google Benchmark micro-suite of the server's hot paths, run
// by bench/run and quoted in docs/performance.md:
//   frame split      net::LineFramer over a buffer of 64 pipelined requests
//   request parse    protocol::parseRequest of a typical `send`
//   event serialize  the `message` event line for one recipient
//   store insert     SqliteStore appends (synchronous=FULL, group commit)
//   reply serialize  the `send` success response
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/line_framer.h"
#include "protocol/reply.h"
#include "protocol/request.h"
#include "store/sqlite_store.h"

namespace parley {
namespace {

const std::string kSend =
    R"({"op":"send","to":"bench_b17","text":"1732540000123456789 hello there, how are you?"})";

void BM_FrameSplit(benchmark::State& state) {
  std::string input;
  for (int i = 0; i < 64; ++i) input += kSend + "\n";
  net::LineFramer framer(64 * 1024);
  for (auto _ : state) {
    framer.append(input);
    std::string_view line;
    size_t lines = 0;
    while (framer.next(&line) == net::LineFramer::Next::kLine) {
      benchmark::DoNotOptimize(line.data());
      ++lines;
    }
    framer.compact();
    benchmark::DoNotOptimize(lines);
  }
  state.SetItemsProcessed(state.iterations() * 64);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(input.size()));
}
BENCHMARK(BM_FrameSplit);

void BM_RequestParseSend(benchmark::State& state) {
  for (auto _ : state) {
    protocol::Parsed p = protocol::parseRequest(kSend);
    benchmark::DoNotOptimize(p.request->text.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RequestParseSend);

void BM_RequestParseAck(benchmark::State& state) {
  const std::string ack = R"({"op":"ack","rid":"ack","up_to":123456})";
  for (auto _ : state) {
    protocol::Parsed p = protocol::parseRequest(ack);
    benchmark::DoNotOptimize(p.request->up_to);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RequestParseAck);

const Message kMessage{
    123456,       "bench_a17", "bench_b17", "", "1732540000123456789 hello there, how are you?",
    1732540000123};

void BM_EventSerialize(benchmark::State& state) {
  Seq seq = 1;
  for (auto _ : state) {
    std::string line = protocol::messageEvent(kMessage, seq++);
    benchmark::DoNotOptimize(line.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EventSerialize);

void BM_ReplySerializeSend(benchmark::State& state) {
  protocol::Reply reply;
  reply.message = protocol::MessageRef{123456, 1732540000123};
  for (auto _ : state) {
    std::string line = protocol::serializeOk(nullptr, reply);
    benchmark::DoNotOptimize(line.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReplySerializeSend);

// A real SQLite file (WAL, synchronous=FULL) in a temp dir, with two users.
struct StoreFixture {
  std::filesystem::path dir;
  std::unique_ptr<SqliteStore> store;
  UserId a = 0, b = 0;
  StoreFixture() {
    dir = std::filesystem::temp_directory_path() /
          ("parley-micro-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(dir);
    store = std::move(SqliteStore::open((dir / "m.db").string())).value();
    a = store->createUser("alice", "h", 1).value().id;
    b = store->createUser("bob", "h", 1).value().id;
  }
  ~StoreFixture() {
    store.reset();
    std::filesystem::remove_all(dir);
  }
  static inline std::atomic<int> counter{0};
};

// `threads` writers append at once, as the blocking pool's threads do: the
// group commit puts their appends in one transaction and one fsync.
void BM_StoreAppendDirect(benchmark::State& state) {
  StoreFixture f;
  const int threads = static_cast<int>(state.range(0));
  const int per_thread = 64;
  for (auto _ : state) {
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&] {
        for (int i = 0; i < per_thread; ++i) {
          auto r = f.store->appendDirect(f.a, f.b, kMessage.text, 1);
          benchmark::DoNotOptimize(r);
        }
      });
    }
    for (auto& t : ts) t.join();
  }
  state.SetItemsProcessed(state.iterations() * threads * per_thread);
}
BENCHMARK(BM_StoreAppendDirect)->Arg(1)->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace parley

BENCHMARK_MAIN();
