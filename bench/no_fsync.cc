// libparley-no-fsync.so: fsync() and fdatasync() that return at once,
// preloaded into a parley-server (bench/server-without-fsync) to measure
// what a message costs with the disk taken out of the path — the
// seventeenth round of docs/performance.md. A server run this way is NOT
// durable: a measurement, never a deployment.
extern "C" int fsync(int) { return 0; }
extern "C" int fdatasync(int) { return 0; }
