// The server's allocator: jemalloc, linked into parley-server (not under
// the sanitizers, which bring their own), configured here because jemalloc
// reads this symbol at startup. MALLOC_CONF in the environment is applied
// after it, so an operator can still override any option.
//
// Why jemalloc: on the message path memory is allocated on one thread and
// freed on another (a reply line built on the store's writer thread, written
// and freed on a loop thread). glibc's per-thread cache then keeps missing
// and every such malloc/free took the arena's lock and its slow paths:
// about a fifth of the server's CPU in a 1:1 run. Measured on 2 cores,
// same build: 1:1 messages 47-50k/s with glibc, 67-69k/s with jemalloc.
//
// Why one arena: connection objects are allocated on loop threads and each
// login's temporaries on pool threads; with an arena per thread (or per CPU)
// the space freed in one is never reused by another. With 19,000 idle
// connections: 2,083 bytes per connection with jemalloc's default arenas,
// 1,998 with one. The per-thread caches keep the hot sizes off its lock.
extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's interface.
const char* malloc_conf = "narenas:1";
}
