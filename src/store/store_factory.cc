#include "store/mysql_store.h"
#include "store/sqlite_store.h"
#include "store/store.h"

namespace parley {

Result<StorePtr> openStore(const std::string& url, const StoreOptions& options) {
  if (url.rfind("mysql://", 0) == 0) {
    if (options.wal_sync_interval.count() != 0) {
      return Status::BadRequest(
          "--wal-sync-interval-us is the embedded store's; with MariaDB, its own settings "
          "(innodb_flush_log_at_trx_commit, binlog_group_commit_sync_delay) decide");
    }
    auto store = MysqlStore::open(url);
    if (!store.ok()) return store.status();
    return StorePtr(std::move(store).value());
  }
  std::string path = url.rfind("sqlite:", 0) == 0 ? url.substr(7) : url;
  if (path.empty()) return Status::BadRequest("empty SQLite path in store URL");
  auto store = SqliteStore::open(path, SqliteStore::kReadConnections, options);
  if (!store.ok()) return store.status();
  return StorePtr(std::move(store).value());
}

}  // namespace parley
