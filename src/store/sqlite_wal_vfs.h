// A SQLite VFS that writes the write-ahead log in large runs.
//
// SQLite appends each WAL frame with two write() calls, one for the 24-byte
// frame header and one for the page, so a group commit of 700 pages is 1,400
// system calls; on this project's VMs those calls were half of the writer
// thread's time (docs/performance.md, change 21). This VFS wraps the default
// one and, for WAL files only, gathers contiguous writes in a buffer that it
// writes with one call:
//   - before the file is synced, read, sized or truncated, or closed;
//   - before a write that does not continue the run (the WAL header at a
//     restart, a page rewritten in place) and when the buffer is full;
//   - as soon as a commit frame (non-zero "database size" in its header, see
//     https://sqlite.org/fileformat2.html#walformat) has been written.
// The last rule is what makes it safe: SQLite publishes a commit to other
// connections (the wal-index) only after writing its commit frame, and with
// synchronous=FULL only after syncing the WAL, so no reader can look for a
// frame that is still in the buffer, whatever the synchronous setting.
// Durability is unchanged: every byte reaches the file before the fsync that
// makes it durable. Database, journal and temporary files are not touched.
#pragma once

namespace parley {

// The VFS's name for sqlite3_open_v2; registers it on the first call
// (thread safe). Not the default VFS: only connections that ask use it.
const char* walBufferingVfsName();

}  // namespace parley
