#include "server/web_root.h"

#include <unistd.h>

#include <filesystem>
#include <vector>

namespace parley::server {
namespace fs = std::filesystem;

std::string findWebRoot(const std::string& configured) {
  if (!configured.empty()) return configured;
  std::vector<fs::path> candidates;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path bin = exe.parent_path();
    candidates.push_back(bin / ".." / "share" / "parley" / "web");
    candidates.push_back(bin / "web");
  }
#ifdef PARLEY_SOURCE_WEB_DIR
  candidates.push_back(PARLEY_SOURCE_WEB_DIR);
#endif
  for (const auto& dir : candidates) {
    if (fs::is_regular_file(dir / "index.html", ec)) return fs::weakly_canonical(dir, ec).string();
  }
  return "";
}

}  // namespace parley::server
