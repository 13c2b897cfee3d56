#include "e2b/multipart.h"

#include <gtest/gtest.h>

namespace kiln::e2b {
namespace {

TEST(Multipart, BoundaryFromContentType) {
  auto b = multipart_boundary("multipart/form-data; boundary=----abc123");
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(*b, "----abc123");
  auto q = multipart_boundary("Multipart/Form-Data; charset=x; boundary=\"q b\"");
  ASSERT_TRUE(q.is_ok());
  EXPECT_EQ(*q, "q b");
  EXPECT_FALSE(multipart_boundary("application/octet-stream").is_ok());
  EXPECT_FALSE(multipart_boundary("multipart/form-data").is_ok());
}

TEST(Multipart, PartsWithAndWithoutFilenames) {
  std::string body =
      "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"dir/a.txt\"\r\n"
      "Content-Type: application/octet-stream\r\n\r\nhello\r\nworld\r\n"
      "--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nxy\r\n--B--\r\n";
  auto parts = parse_multipart(body, "B");
  ASSERT_TRUE(parts.is_ok()) << parts.status().message();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "file");
  EXPECT_EQ((*parts)[0].filename, "dir/a.txt");
  EXPECT_EQ((*parts)[0].data, "hello\r\nworld");
  EXPECT_EQ((*parts)[1].filename, "");
}

TEST(Multipart, BinaryDataKeepsEveryByte) {
  std::string data("a\0b\r\n--", 7);
  std::string body =
      "--X\r\nContent-Disposition: form-data; name=file; filename=f\r\n\r\n" + data + "\r\n--X--";
  auto parts = parse_multipart(body, "X");
  ASSERT_TRUE(parts.is_ok()) << parts.status().message();
  EXPECT_EQ((*parts)[0].data, data);
  EXPECT_EQ((*parts)[0].filename, "f");
}

TEST(Multipart, RefusesMalformedAndOversizedBodies) {
  EXPECT_FALSE(parse_multipart("", "B").is_ok());
  EXPECT_FALSE(parse_multipart("--B\r\nContent-Disposition: form-data\r\n\r\nx", "B").is_ok());
  EXPECT_FALSE(parse_multipart("--Bjunk", "B").is_ok());
  std::string many;
  for (std::size_t i = 0; i <= kMaxFormParts; ++i)
    many += "--B\r\nContent-Disposition: form-data; name=file\r\n\r\nx\r\n";
  many += "--B--";
  EXPECT_FALSE(parse_multipart(many, "B").is_ok());
}

}  // namespace
}  // namespace kiln::e2b
