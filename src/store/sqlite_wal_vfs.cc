#include "store/sqlite_wal_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace parley {
namespace {

// Bytes gathered at most before they are written: a batch of 2,048 messages
// dirties ~700 4 KiB pages (~2.9 MB of frames); more than that is written in
// several calls, which is still correct.
constexpr sqlite3_int64 kBufferBytes = 4 << 20;
// The unix VFS writes at most 128 KiB - 1 per call (it masks the length and
// reports a short write as SQLITE_FULL), so a run goes out in pieces this big.
constexpr sqlite3_int64 kWriteBytes = 120 << 10;
constexpr int kFrameHeaderBytes = 24;
constexpr sqlite3_int64 kWalHeaderBytes = 32;

sqlite3_vfs* g_base = nullptr;  // the default VFS, set once at registration

// A WAL file: our state, followed in the same allocation by the base VFS's
// file (SQLite allocates szOsFile bytes, which covers both).
struct WalFile {
  sqlite3_file base;  // its pMethods are kWalMethods
  sqlite3_file* real;
  char* buffer;               // kBufferBytes, allocated at the first write
  sqlite3_int64 run_offset;   // file offset of buffer[0]
  sqlite3_int64 run_bytes;    // bytes gathered, not yet written
  sqlite3_int64 next_offset;  // just past the last write: where an append goes
  bool commit_page_next;      // the last write was a commit frame's header
};
static_assert(sizeof(WalFile) % 8 == 0,
              "the base VFS's file follows WalFile and needs 8-byte alignment");

WalFile* walFile(sqlite3_file* f) { return reinterpret_cast<WalFile*>(f); }

int writeThrough(WalFile* f, const char* data, sqlite3_int64 bytes, sqlite3_int64 offset) {
  for (sqlite3_int64 done = 0; done < bytes; done += kWriteBytes) {
    int piece = static_cast<int>(std::min(kWriteBytes, bytes - done));
    int rc = f->real->pMethods->xWrite(f->real, data + done, piece, offset + done);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

int flush(WalFile* f) {
  if (f->run_bytes == 0) return SQLITE_OK;
  int rc = writeThrough(f, f->buffer, f->run_bytes, f->run_offset);
  f->run_bytes = 0;
  return rc;
}

bool isCommitFrameHeader(const void* data, int bytes, sqlite3_int64 offset) {
  if (bytes != kFrameHeaderBytes || offset < kWalHeaderBytes) return false;
  // Bytes 4..7: the database size in pages after a commit; 0 for other frames.
  const auto* p = static_cast<const unsigned char*>(data);
  return (p[4] | p[5] | p[6] | p[7]) != 0;
}

int walWrite(sqlite3_file* file, const void* data, int bytes, sqlite3_int64 offset) {
  WalFile* f = walFile(file);
  // A commit frame is its header, then its page: once the page is in, the
  // commit's frames go to the file before SQLite can publish them.
  bool commit_page = f->commit_page_next;
  f->commit_page_next = isCommitFrameHeader(data, bytes, offset);
  bool appends = offset == f->next_offset;
  f->next_offset = offset + bytes;
  int rc = SQLITE_OK;
  if (appends && f->run_bytes + bytes > kBufferBytes) rc = flush(f);
  if (rc != SQLITE_OK) return rc;
  if (appends && f->buffer == nullptr) {
    f->buffer = static_cast<char*>(sqlite3_malloc64(kBufferBytes));
  }
  if (!appends || f->buffer == nullptr || bytes > kBufferBytes) {
    // Not the next bytes of the log — the first write, the WAL header at a
    // restart, a spilled page changed again, the frame headers SQLite
    // rewrites with new checksums just before it publishes a commit — or no
    // buffer: straight to the file, after what was gathered. Only appends
    // wait in the buffer, so the last bytes of a commit are never a rewrite
    // left behind there.
    rc = flush(f);
    return rc != SQLITE_OK ? rc : writeThrough(f, static_cast<const char*>(data), bytes, offset);
  }
  if (f->run_bytes == 0) f->run_offset = offset;
  std::memcpy(f->buffer + f->run_bytes, data, static_cast<size_t>(bytes));
  f->run_bytes += bytes;
  return commit_page ? flush(f) : SQLITE_OK;
}

int walClose(sqlite3_file* file) {
  WalFile* f = walFile(file);
  int rc = flush(f);
  sqlite3_free(f->buffer);
  f->buffer = nullptr;
  int closed = f->real->pMethods->xClose(f->real);
  return rc != SQLITE_OK ? rc : closed;
}

int walRead(sqlite3_file* file, void* data, int bytes, sqlite3_int64 offset) {
  WalFile* f = walFile(file);
  int rc = flush(f);
  if (rc != SQLITE_OK) return rc;
  return f->real->pMethods->xRead(f->real, data, bytes, offset);
}

int walTruncate(sqlite3_file* file, sqlite3_int64 size) {
  WalFile* f = walFile(file);
  int rc = flush(f);
  if (rc != SQLITE_OK) return rc;
  return f->real->pMethods->xTruncate(f->real, size);
}

int walSync(sqlite3_file* file, int flags) {
  WalFile* f = walFile(file);
  int rc = flush(f);
  if (rc != SQLITE_OK) return rc;
  return f->real->pMethods->xSync(f->real, flags);
}

int walFileSize(sqlite3_file* file, sqlite3_int64* size) {
  WalFile* f = walFile(file);
  int rc = flush(f);
  if (rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFileSize(f->real, size);
}

int walLock(sqlite3_file* file, int level) {
  sqlite3_file* real = walFile(file)->real;
  return real->pMethods->xLock(real, level);
}

int walUnlock(sqlite3_file* file, int level) {
  sqlite3_file* real = walFile(file)->real;
  return real->pMethods->xUnlock(real, level);
}

int walCheckReservedLock(sqlite3_file* file, int* out) {
  sqlite3_file* real = walFile(file)->real;
  return real->pMethods->xCheckReservedLock(real, out);
}

int walFileControl(sqlite3_file* file, int op, void* arg) {
  WalFile* f = walFile(file);
  // A size hint or a query of the file may look at the file's bytes.
  int rc = flush(f);
  if (rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFileControl(f->real, op, arg);
}

int walSectorSize(sqlite3_file* file) {
  sqlite3_file* real = walFile(file)->real;
  return real->pMethods->xSectorSize(real);
}

int walDeviceCharacteristics(sqlite3_file* file) {
  sqlite3_file* real = walFile(file)->real;
  return real->pMethods->xDeviceCharacteristics(real);
}

// Version 1: shared memory and memory-mapped reads belong to the database
// file, never to its WAL.
const sqlite3_io_methods kWalMethods = {
    1,
    walClose,
    walRead,
    walWrite,
    walTruncate,
    walSync,
    walFileSize,
    walLock,
    walUnlock,
    walCheckReservedLock,
    walFileControl,
    walSectorSize,
    walDeviceCharacteristics,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

int open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  // Everything but a WAL is the base VFS's own file, at the same address.
  if ((flags & SQLITE_OPEN_WAL) == 0) return g_base->xOpen(g_base, name, file, flags, out_flags);
  WalFile* f = walFile(file);
  f->base.pMethods = nullptr;  // SQLite must not close a file that did not open
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  f->buffer = nullptr;
  f->run_offset = 0;
  f->run_bytes = 0;
  f->next_offset = -1;
  f->commit_page_next = false;
  int rc = g_base->xOpen(g_base, name, f->real, flags, out_flags);
  if (rc == SQLITE_OK) f->base.pMethods = &kWalMethods;
  return rc;
}

constexpr const char* kName = "parley-wal-buffering";

}  // namespace

const char* walBufferingVfsName() {
  static const char* name = [] {
    g_base = sqlite3_vfs_find(nullptr);
    // Everything but xOpen is the base VFS's (its functions read their
    // settings through pAppData, which the copy keeps).
    static sqlite3_vfs vfs = *g_base;
    vfs.zName = kName;
    vfs.szOsFile = static_cast<int>(sizeof(WalFile)) + g_base->szOsFile;
    vfs.pNext = nullptr;
    vfs.xOpen = open;
    return sqlite3_vfs_register(&vfs, /*makeDflt=*/0) == SQLITE_OK ? kName : nullptr;
  }();
  return name;
}

}  // namespace parley
