// StaticFiles: what the web listener can serve — exactly the files under
// the root, read once, with a content type; nothing else, and a mistaken
// root is refused rather than read into memory.
#include "net/static_files.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace parley::net {
namespace {
namespace fs = std::filesystem;

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/parley-static-XXXXXX";
    base_ = mkdtemp(tmpl);
    root_ = base_ + "/web";
    fs::create_directories(root_ + "/js");
    write(root_ + "/index.html", "<!doctype html>");
    write(root_ + "/js/app.js", "export {};");
    write(base_ + "/secret.txt", "outside the root");
  }
  void TearDown() override { fs::remove_all(base_); }
  static void write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
  }
  std::string base_, root_;
};

TEST_F(StaticFilesTest, ServesTheFilesUnderTheRootOnly) {
  auto files = StaticFiles::load(root_);
  ASSERT_TRUE(files.ok()) << files.status().toString();
  const StaticFiles& f = *files.value();
  EXPECT_EQ(f.size(), 2u);
  ASSERT_NE(f.find("/"), nullptr);
  EXPECT_EQ(f.find("/")->body, "<!doctype html>");
  EXPECT_EQ(f.find("/")->content_type, "text/html; charset=utf-8");
  ASSERT_NE(f.find("/js/app.js?v=3"), nullptr);
  EXPECT_EQ(f.find("/js/app.js")->content_type, "text/javascript; charset=utf-8");
  for (const char* outside : {"/../secret.txt", "/js/../../secret.txt", "/%2e%2e/secret.txt",
                              "//index.html", "/js", "/nope", "", "index.html"}) {
    EXPECT_EQ(f.find(outside), nullptr) << outside;
  }
}

TEST_F(StaticFilesTest, FilesAreReadOnceAtLoad) {
  auto files = StaticFiles::load(root_);
  ASSERT_TRUE(files.ok());
  write(root_ + "/index.html", "changed on disk");
  EXPECT_EQ(files.value()->find("/")->body, "<!doctype html>");
}

TEST_F(StaticFilesTest, AWrongRootIsRefused) {
  EXPECT_FALSE(StaticFiles::load(base_ + "/missing").ok());
  EXPECT_FALSE(StaticFiles::load(root_ + "/index.html").ok());  // a file, not a directory
  for (size_t i = 0; i <= StaticFiles::kMaxFiles; ++i) {
    write(root_ + "/many" + std::to_string(i) + ".txt", "x");
  }
  auto many = StaticFiles::load(root_);
  ASSERT_FALSE(many.ok());
  EXPECT_NE(many.status().message().find("more than"), std::string::npos);
}

TEST(StaticFilesContentType, ByExtension) {
  EXPECT_EQ(StaticFiles::contentType("/a.css"), "text/css; charset=utf-8");
  EXPECT_EQ(StaticFiles::contentType("/a.svg"), "image/svg+xml");
  EXPECT_EQ(StaticFiles::contentType("/a.bin"), "application/octet-stream");
}

}  // namespace
}  // namespace parley::net
