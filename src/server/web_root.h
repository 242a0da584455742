// Where the browser client's files are: the --web-root flag when given,
// otherwise the first directory that exists of
//   <dir of the binary>/../share/parley/web   (an installed layout)
//   <dir of the binary>/web
//   the source tree's web/ (for a binary run from its build tree)
#pragma once

#include <string>

namespace parley::server {

// The directory to serve, or "" when none was found.
std::string findWebRoot(const std::string& configured);

}  // namespace parley::server
