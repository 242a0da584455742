// libparley-no-fsync.so: fsync() and fdatasync() that return at once,
// preloaded into a parley-server (bench/server-without-fsync) to measure
// what a message costs with the disk taken out of the path — the
// seventeenth round of docs/performance.md. A server run this way is NOT
// durable: a measurement, never a deployment. It says so on stderr when it
// loads, so a log shows that the preload took effect.
#include <unistd.h>

extern "C" int fsync(int) { return 0; }
extern "C" int fdatasync(int) { return 0; }

namespace {

[[gnu::constructor]] void announce() {
  static const char kBanner[] =
      "libparley-no-fsync: fsync and fdatasync are no-ops in this process (NOT durable)\n";
  (void)!write(STDERR_FILENO, kBanner, sizeof kBanner - 1);
}

}  // namespace
