#include "net/static_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace parley::net {
namespace fs = std::filesystem;

Result<std::shared_ptr<const StaticFiles>> StaticFiles::load(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return Status::NotFound("web root '" + root + "' is not a directory");
  }
  auto files = std::make_shared<StaticFiles>();
  files->root_ = fs::canonical(root, ec).string();
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    if (files->files_.size() >= kMaxFiles) {
      return Status::BadRequest("web root '" + root + "' holds more than " +
                                std::to_string(kMaxFiles) + " files; is it the right directory?");
    }
    if (it->file_size(ec) > kMaxFileBytes) {
      return Status::BadRequest("web root file '" + it->path().string() + "' is over " +
                                std::to_string(kMaxFileBytes) + " bytes");
    }
    std::ifstream in(it->path(), std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    if (!in) return Status::Unavailable("cannot read '" + it->path().string() + "'");
    std::string key = "/" + fs::relative(it->path(), root, ec).generic_string();
    files->files_[key] = File{body.str(), contentType(key)};
  }
  if (ec) return Status::Unavailable("cannot list web root '" + root + "': " + ec.message());
  return std::shared_ptr<const StaticFiles>(std::move(files));
}

const StaticFiles::File* StaticFiles::find(std::string_view target) const {
  std::string_view path = target.substr(0, target.find_first_of("?#"));
  if (path == "/") path = "/index.html";
  // Keys are exact relative paths of files that were under the root at load
  // time, so "..", "//" or percent-escapes simply match nothing.
  auto it = files_.find(path);
  return it == files_.end() ? nullptr : &it->second;
}

std::string StaticFiles::contentType(std::string_view path) {
  auto ends = [path](std::string_view ext) {
    return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".json")) return "application/json";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".txt")) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

}  // namespace parley::net
