// parley-stall-probe: how long this machine stops running its threads, with
// and without disk I/O going on — the part of a message's latency that no
// change to the server can remove.
//
// One thread per CPU the process may use, pinned, at real-time priority
// when allowed (SCHED_FIFO: nothing in the guest runs ahead of it but
// interrupts), naps 200 us again and again and records how much later than
// asked it woke, and when. On an idle machine it oversleeps by
// microseconds. Stops of more than 5 ms that every CPU's probe saw at the
// same moment mean the whole machine was stopped — on a virtual machine, by
// its host. Meanwhile, with --io, a thread of normal priority writes 4 KiB
// blocks to a file and makes each durable (fdatasync, as the server's store
// does), or writes them with O_DIRECT and no flush, so the two compare.
//
//   parley-stall-probe                          # 5 s, no I/O
//   parley-stall-probe --io fsync               # the store's pattern: write + fdatasync
//   parley-stall-probe --io fsync --io-gap-us 2000   # one fsync every ~2 ms
//   parley-stall-probe --io direct              # O_DIRECT writes, no flush
// bench/disk-stalls runs five rows; docs/performance.md (seventeenth round)
// has what they showed here.
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "latency_histogram.h"

namespace {

using Clock = std::chrono::steady_clock;

double msBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

constexpr auto kNap = std::chrono::microseconds(200);
constexpr double kNapMs = 0.2;
constexpr double kStopMs = 5;             // an oversleep this long is a stop
constexpr size_t kMaxStopsKept = 100000;  // per CPU, for matching them up

// A stop: from when the probe went to sleep to when it woke.
struct Stop {
  Clock::time_point from;
  Clock::time_point to;
};

// What one CPU's probe saw.
struct Oversleeps {
  int cpu = -1;
  bool pinned = false;
  long sleeps = 0;
  long over_1ms = 0;
  long over_2ms = 0;
  long over_5ms = 0;
  double worst_ms = 0;
  double lost_ms = 0;       // the sum of the oversleeps over 1 ms
  std::vector<Stop> stops;  // those over kStopMs, the first kMaxStopsKept
};

// The highest SCHED_FIFO priority this process may take (99 as root,
// RLIMIT_RTPRIO otherwise); 0 for none.
int realtimePriority() {
  int highest = sched_get_priority_max(SCHED_FIFO);
  if (geteuid() == 0) return highest;
  rlimit limit{};
  if (getrlimit(RLIMIT_RTPRIO, &limit) != 0) return 0;
  return static_cast<int>(std::min<rlim_t>(limit.rlim_cur, static_cast<rlim_t>(highest)));
}

void probe(Clock::time_point end, int priority, Oversleeps* out, std::atomic<bool>* realtime) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(out->cpu, &set);
  out->pinned = pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
  sched_param param{};
  param.sched_priority = priority;
  if (priority <= 0 || pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) != 0) {
    realtime->store(false);
  }
  while (Clock::now() < end) {
    auto before = Clock::now();
    std::this_thread::sleep_for(kNap);
    auto after = Clock::now();
    double over = msBetween(before, after) - kNapMs;
    out->sleeps++;
    if (over > 1) {
      out->over_1ms++;
      out->lost_ms += over;
    }
    if (over > 2) out->over_2ms++;
    if (over > kStopMs) {
      out->over_5ms++;
      if (out->stops.size() < kMaxStopsKept) out->stops.push_back({before, after});
    }
    out->worst_ms = std::max(out->worst_ms, over);
  }
}

// The first CPU's stops that every other CPU's probe also saw (their stops
// overlap it). Each list is in time order and its stops do not overlap, so
// one pass per list: an hour of stops is matched in linear time.
long stopsSeenByAll(const std::vector<Oversleeps>& cpus) {
  if (cpus.size() < 2) return cpus.empty() ? 0 : cpus[0].over_5ms;
  std::vector<size_t> next(cpus.size(), 0);  // per CPU: its first stop not yet over
  long together = 0;
  for (const Stop& stop : cpus[0].stops) {
    bool all = true;
    for (size_t c = 1; c < cpus.size(); ++c) {
      const std::vector<Stop>& other = cpus[c].stops;
      while (next[c] < other.size() && other[next[c]].to <= stop.from) next[c]++;
      all = all && next[c] < other.size() && other[next[c]].from < stop.to;
    }
    if (all) together++;
  }
  return together;
}

// The I/O thread's file, opened (and unlinked, so an interrupted run leaves
// nothing behind) before the probes start: a --dir that cannot take it
// fails at once.
struct IoFile {
  int fd = -1;
  std::string fs;  // the file system's type, as far as known
  std::string error;
};

std::string fsType(int fd) {
  struct statfs st {};
  if (fstatfs(fd, &st) != 0) return "unknown";
  switch (static_cast<unsigned long>(st.f_type)) {
    case TMPFS_MAGIC:
      return "tmpfs (memory: no disk)";
    case RAMFS_MAGIC:
      return "ramfs (memory: no disk)";
    case EXT4_SUPER_MAGIC:
      return "ext2/3/4";
    case XFS_SUPER_MAGIC:
      return "xfs";
    case BTRFS_SUPER_MAGIC:
      return "btrfs";
    case OVERLAYFS_SUPER_MAGIC:
      return "overlay";
    default: {
      char hex[32];
      std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(st.f_type));
      return hex;
    }
  }
}

IoFile openIoFile(const std::string& mode, const std::string& dir) {
  IoFile f;
  std::string path = dir + "/parley-stall-probe-" + std::to_string(getpid()) + ".dat";
  int flags = O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC;
  if (mode == "direct") flags |= O_DIRECT;
  f.fd = ::open(path.c_str(), flags, 0600);
  if (f.fd < 0) {
    f.error = "cannot open " + path + (mode == "direct" ? " with O_DIRECT" : "") + ": " +
              std::strerror(errno);
    return f;
  }
  ::unlink(path.c_str());
  f.fs = fsType(f.fd);
  return f;
}

// Write times in microseconds, and the first error.
struct IoTimes {
  parley::bench::LatencyHistogram us;
  std::string error;
};

void writeLoop(const std::string& mode, int fd, int gap_us, Clock::time_point end, IoTimes* out) {
  void* block = nullptr;
  if (posix_memalign(&block, 4096, 4096) != 0) {
    out->error = "out of memory";
    return;
  }
  std::memset(block, 'p', 4096);
  // 1 MiB, rewritten in place like a WAL that starts over; at least one
  // write, however late this thread first runs.
  long i = 0;
  do {
    auto before = Clock::now();
    ssize_t n = ::pwrite(fd, block, 4096, (i % 256) * 4096);
    if (n != 4096) {
      out->error = n < 0 ? std::string("write: ") + std::strerror(errno)
                         : "write: " + std::to_string(n) + " bytes of 4096";
      break;
    }
    if (mode == "fsync" && ::fdatasync(fd) != 0) {
      out->error = std::string("fdatasync: ") + std::strerror(errno);
      break;
    }
    out->us.record(static_cast<uint64_t>(msBetween(before, Clock::now()) * 1000));
    if (gap_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
    ++i;
  } while (Clock::now() < end);
  free(block);
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

  IoFile file;
  if (io != "none") {
    file = openIoFile(io, dir);
    if (!file.error.empty()) {
      std::fprintf(stderr, "parley-stall-probe: %s\n", file.error.c_str());
      return 1;
    }
  }
  // The CPUs this process may run on (a cpuset or taskset may allow fewer
  // than the machine has).
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
    std::perror("parley-stall-probe: sched_getaffinity");
    return 1;
  }
  std::vector<Oversleeps> seen;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    seen.emplace_back();
    seen.back().cpu = cpu;
  }
  int priority = realtimePriority();
  std::atomic<bool> realtime{priority > 0};
  IoTimes io_times;
  auto start = Clock::now();
  auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (Oversleeps& o : seen) threads.emplace_back(probe, end, priority, &o, &realtime);
  if (file.fd >= 0) threads.emplace_back(writeLoop, io, file.fd, gap_us, end, &io_times);
  for (auto& t : threads) t.join();
  if (file.fd >= 0) ::close(file.fd);
  if (!io_times.error.empty()) {
    std::fprintf(stderr, "parley-stall-probe: %s\n", io_times.error.c_str());
    return 1;
  }

  long together = stopsSeenByAll(seen);
  nlohmann::json result = {{"seconds", seconds},
                           {"io", io},
                           {"io_gap_us", gap_us},
                           {"realtime", realtime.load()},
                           {"cpus", nlohmann::json::array()},
                           {"stops_seen_by_all", together}};
  std::string io_what = io;
  if (gap_us > 0) io_what += " every " + std::to_string(gap_us) + " us";
  if (file.fd >= 0) io_what += ", in " + dir + " (" + file.fs + ")";
  std::printf("parley-stall-probe: %.1f s, %zu CPUs, I/O %s, probes at %s\n", seconds, seen.size(),
              io_what.c_str(),
              realtime.load() ? ("SCHED_FIFO " + std::to_string(priority)).c_str()
                              : "normal priority (no permission for real-time)");
  for (const Oversleeps& o : seen) {
    std::printf(
        "  cpu %d%s: %ld naps of 200 us; woke late by > 1 ms %ld, > 2 ms %ld, > 5 ms %ld times; "
        "worst %.2f ms; %.1f ms lost (%.2f%% of the run)\n",
        o.cpu, o.pinned ? "" : " (not pinned)", o.sleeps, o.over_1ms, o.over_2ms, o.over_5ms,
        o.worst_ms, o.lost_ms, 100 * o.lost_ms / (seconds * 1000));
    result["cpus"].push_back({{"cpu", o.cpu},
                              {"pinned", o.pinned},
                              {"sleeps", o.sleeps},
                              {"over_1ms", o.over_1ms},
                              {"over_2ms", o.over_2ms},
                              {"over_5ms", o.over_5ms},
                              {"worst_ms", o.worst_ms},
                              {"lost_ms", o.lost_ms}});
  }
  if (seen.size() > 1) {
    std::printf(
        "  stops over 5 ms on cpu %d that every other CPU saw at the same time: %ld of %ld\n",
        seen[0].cpu, together, seen[0].over_5ms);
  }
  if (file.fd >= 0) {
    const auto& h = io_times.us;
    auto ms = [](uint64_t us) { return static_cast<double>(us) / 1000; };
    double p50 = ms(h.percentile(0.5)), p99 = ms(h.percentile(0.99));
    double p999 = ms(h.percentile(0.999)), max = ms(h.max());
    std::printf("  I/O: %llu writes%s; p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f ms\n",
                static_cast<unsigned long long>(h.count()),
                io == "fsync" ? " + fdatasync" : " (O_DIRECT)", p50, p99, p999, max);
    result["fs"] = file.fs;
    result["writes"] = h.count();
    result["write_p50_ms"] = p50;
    result["write_p99_ms"] = p99;
    result["write_p999_ms"] = p999;
    result["write_max_ms"] = max;
  }
  std::printf("%s\n", result.dump().c_str());
  return 0;
}
