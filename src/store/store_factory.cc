#include "store/mysql_store.h"
#include "store/sqlite_store.h"
#include "store/store.h"

namespace parley {

Result<Durability> parseDurability(const std::string& name) {
  if (name == "disk") return Durability::kDisk;
  if (name == "process") return Durability::kProcess;
  return Status::BadRequest("durability must be disk or process, not \"" + name + "\"");
}

Result<StorePtr> openStore(const std::string& url, Metrics* metrics, Durability durability) {
  if (url.rfind("mysql://", 0) == 0) {
    if (durability != Durability::kDisk) {
      return Status::BadRequest(
          "--durability process is the embedded store's; with MariaDB, its own "
          "innodb_flush_log_at_trx_commit decides when a commit is on disk");
    }
    auto store = MysqlStore::open(url);
    if (!store.ok()) return store.status();
    return StorePtr(std::move(store).value());
  }
  std::string path = url.rfind("sqlite:", 0) == 0 ? url.substr(7) : url;
  if (path.empty()) return Status::BadRequest("empty SQLite path in store URL");
  auto store = SqliteStore::open(path, SqliteStore::kReadConnections, metrics, durability);
  if (!store.ok()) return store.status();
  return StorePtr(std::move(store).value());
}

}  // namespace parley
