// A SQLite VFS that writes the write-ahead log in large runs.
//
// SQLite appends each WAL frame with two write() calls, one for the 24-byte
// frame header and one for the page, so a group commit of 700 pages is 1,400
// system calls; on this project's VMs those calls were half of the writer
// thread's time (docs/performance.md, change 21). This VFS wraps the default
// one and, for WAL files only, gathers appends — writes that continue the
// previous one — in a buffer that it writes with few calls:
//   - before the file is synced, read, sized or truncated, or closed;
//   - as soon as the page of a commit frame (non-zero "database size" in its
//     header, see https://sqlite.org/fileformat2.html#walformat) is in;
//   - when the buffer is full.
// Any other write (the WAL header at a restart, a spilled page changed
// again, the frame headers SQLite rewrites with fresh checksums just before
// it publishes a commit) goes straight to the file, after what was gathered.
// Together these make it safe: SQLite publishes a commit to other
// connections (the wal-index) only after writing its commit frame, and the
// frames of a commit are in the file by then, whatever the synchronous
// setting (a test kills a process right after COMMIT without syncing or
// closing, and nothing is missing). Durability is unchanged: every byte
// reaches the file before the fsync that makes it durable. Database, journal
// and temporary files are not touched.
#pragma once

namespace parley {

// The VFS's name for sqlite3_open_v2; registers it on the first call
// (thread safe). Not the default VFS: only connections that ask use it.
const char* walBufferingVfsName();

}  // namespace parley
