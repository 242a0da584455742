// parley-stall-probe: how long this machine stops running its threads, with
// and without disk I/O going on — the part of a message's latency that no
// change to the server can remove.
//
// One thread per CPU, pinned, at real-time priority when allowed
// (SCHED_FIFO 99: nothing in the guest runs ahead of it but interrupts),
// sleeps 200 us again and again and records how much later than asked it
// woke. On an idle machine it oversleeps by microseconds. A probe that
// oversleeps by milliseconds on every CPU at once saw the whole machine
// stopped — on a virtual machine, by its host. Meanwhile, with --io, a
// thread of normal priority writes 4 KiB blocks to a file and makes each
// durable (fdatasync, as the server's store does), or writes them with
// O_DIRECT and no flush, so the two can be compared.
//
//   parley-stall-probe                          # 5 s, no I/O
//   parley-stall-probe --io fsync               # the store's pattern: write + fdatasync
//   parley-stall-probe --io fsync --io-gap-us 2000   # one fsync every ~2 ms
//   parley-stall-probe --io direct              # O_DIRECT writes, no flush
// bench/disk-stalls runs the four; docs/performance.md (seventeenth round)
// has what they showed here.
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// What one CPU's probe saw.
struct Oversleeps {
  long sleeps = 0;
  long over_1ms = 0;
  long over_2ms = 0;
  long over_5ms = 0;
  double worst_ms = 0;
  double lost_ms = 0;  // the sum of the oversleeps over 1 ms
};

constexpr auto kNap = std::chrono::microseconds(200);

// Pins the calling thread to `cpu` and asks for SCHED_FIFO 99; says whether
// it got the priority.
bool pinAndRaise(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  sched_param param{};
  param.sched_priority = 99;
  return pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) == 0;
}

void probe(int cpu, Clock::time_point end, Oversleeps* out, std::atomic<bool>* realtime) {
  if (!pinAndRaise(cpu)) realtime->store(false);
  while (Clock::now() < end) {
    auto before = Clock::now();
    std::this_thread::sleep_for(kNap);
    double over = msSince(before) - std::chrono::duration<double, std::milli>(kNap).count();
    out->sleeps++;
    if (over > 1) {
      out->over_1ms++;
      out->lost_ms += over;
    }
    if (over > 2) out->over_2ms++;
    if (over > 5) out->over_5ms++;
    out->worst_ms = std::max(out->worst_ms, over);
  }
}

// The I/O thread's own figures: each write (and its fdatasync), in 10 us
// buckets up to 1 s, so that an hour of back-to-back writes takes no more
// memory than a second of them.
struct IoTimes {
  static constexpr double kBucketMs = 0.01;
  static constexpr size_t kBuckets = 100000;  // 1 s; slower ones land in the last
  std::vector<uint32_t> buckets = std::vector<uint32_t>(kBuckets);
  uint64_t count = 0;
  double max_ms = 0;
  std::string error;

  void add(double ms) {
    size_t b = std::min(kBuckets - 1, static_cast<size_t>(ms / kBucketMs));
    buckets[b]++;
    count++;
    max_ms = std::max(max_ms, ms);
  }
  // The upper bound of the bucket holding the q-quantile.
  double quantile(double q) const {
    uint64_t want = static_cast<uint64_t>(q * static_cast<double>(count));
    uint64_t seen = 0;
    for (size_t b = 0; b < kBuckets; ++b) {
      seen += buckets[b];
      if (seen > want) return std::min(max_ms, static_cast<double>(b + 1) * kBucketMs);
    }
    return max_ms;
  }
};

void writeLoop(const std::string& mode, const std::string& dir, int gap_us, Clock::time_point end,
               IoTimes* out) {
  std::string path = dir + "/parley-stall-probe-" + std::to_string(getpid()) + ".dat";
  int flags = O_CREAT | O_WRONLY | O_CLOEXEC;
  if (mode == "direct") flags |= O_DIRECT;
  int fd = ::open(path.c_str(), flags, 0600);
  if (fd < 0) {
    out->error = "open " + path + ": " + std::strerror(errno);
    return;
  }
  void* block = nullptr;
  if (posix_memalign(&block, 4096, 4096) != 0) {
    out->error = "out of memory";
    ::close(fd);
    return;
  }
  std::memset(block, 'p', 4096);
  // 1 MiB, rewritten in place like a WAL that starts over.
  for (long i = 0; Clock::now() < end; ++i) {
    auto before = Clock::now();
    if (::pwrite(fd, block, 4096, (i % 256) * 4096) != 4096 ||
        (mode == "fsync" && ::fdatasync(fd) != 0)) {
      out->error = std::string("write: ") + std::strerror(errno);
      break;
    }
    out->add(msSince(before));
    if (gap_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
  }
  free(block);
  ::close(fd);
  ::unlink(path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"parley-stall-probe: how long this machine stops its threads, with disk I/O or not"};
  double seconds = 5;
  std::string io = "none";
  int gap_us = 0;
  std::string dir = ".";
  app.add_option("--seconds", seconds, "How long to probe")->check(CLI::Range(0.1, 3600.0));
  app.add_option("--io", io, "I/O meanwhile: none, fsync (write + fdatasync), direct (O_DIRECT)")
      ->check(CLI::IsMember({"none", "fsync", "direct"}));
  app.add_option("--io-gap-us", gap_us, "Pause after each write (0: back to back)")
      ->check(CLI::Range(0, 1000000));
  app.add_option("--dir", dir, "Where the I/O's scratch file goes (the disk under test)");
  CLI11_PARSE(app, argc, argv);

  int cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto end = Clock::now() +
             std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<Oversleeps> seen(static_cast<size_t>(cpus));
  std::atomic<bool> realtime{true};
  IoTimes io_times;
  std::vector<std::thread> threads;
  for (int cpu = 0; cpu < cpus; ++cpu) {
    threads.emplace_back(probe, cpu, end, &seen[static_cast<size_t>(cpu)], &realtime);
  }
  if (io != "none") threads.emplace_back(writeLoop, io, dir, gap_us, end, &io_times);
  for (auto& t : threads) t.join();
  if (!io_times.error.empty()) {
    std::fprintf(stderr, "parley-stall-probe: %s\n", io_times.error.c_str());
    return 1;
  }

  nlohmann::json result = {{"seconds", seconds},
                           {"io", io},
                           {"io_gap_us", gap_us},
                           {"realtime", realtime.load()},
                           {"cpus", nlohmann::json::array()}};
  std::printf("parley-stall-probe: %.1f s, %d CPUs, I/O %s%s, probes at %s\n", seconds, cpus,
              io.c_str(), gap_us > 0 ? (" every " + std::to_string(gap_us) + " us").c_str() : "",
              realtime.load() ? "SCHED_FIFO 99" : "normal priority (no permission for real-time)");
  for (int cpu = 0; cpu < cpus; ++cpu) {
    const Oversleeps& o = seen[static_cast<size_t>(cpu)];
    std::printf(
        "  cpu %d: %ld naps of 200 us; woke late by > 1 ms %ld, > 2 ms %ld, > 5 ms %ld times; "
        "worst %.2f ms; %.1f ms lost (%.2f%% of the run)\n",
        cpu, o.sleeps, o.over_1ms, o.over_2ms, o.over_5ms, o.worst_ms, o.lost_ms,
        100 * o.lost_ms / (seconds * 1000));
    result["cpus"].push_back({{"cpu", cpu},
                              {"sleeps", o.sleeps},
                              {"over_1ms", o.over_1ms},
                              {"over_2ms", o.over_2ms},
                              {"over_5ms", o.over_5ms},
                              {"worst_ms", o.worst_ms},
                              {"lost_ms", o.lost_ms}});
  }
  if (io != "none") {
    const IoTimes& t = io_times;
    double p50 = t.quantile(0.5), p99 = t.quantile(0.99), p999 = t.quantile(0.999);
    double max = t.max_ms;
    std::printf("  I/O: %llu writes%s; p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f ms\n",
                static_cast<unsigned long long>(t.count),
                io == "fsync" ? " + fdatasync" : " (O_DIRECT)", p50, p99, p999, max);
    result["writes"] = t.count;
    result["write_p50_ms"] = p50;
    result["write_p99_ms"] = p99;
    result["write_p999_ms"] = p999;
    result["write_max_ms"] = max;
  }
  std::printf("%s\n", result.dump().c_str());
  return 0;
}
