#include "store/mysql_store.h"
#include "store/sqlite_store.h"
#include "store/store.h"

namespace parley {

Result<StorePtr> openStore(const std::string& url, Metrics* metrics) {
  if (url.rfind("mysql://", 0) == 0) {
    auto store = MysqlStore::open(url);
    if (!store.ok()) return store.status();
    return StorePtr(std::move(store).value());
  }
  std::string path = url.rfind("sqlite:", 0) == 0 ? url.substr(7) : url;
  if (path.empty()) return Status::BadRequest("empty SQLite path in store URL");
  auto store = SqliteStore::open(path, SqliteStore::kReadConnections, metrics);
  if (!store.ok()) return store.status();
  return StorePtr(std::move(store).value());
}

}  // namespace parley
