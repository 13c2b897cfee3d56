#include "storage/file_types.h"

#include <gtest/gtest.h>

namespace kiln::storage {
namespace {

struct Case {
  std::string path;
  std::string content;
  std::string want;  // "ok", or a fragment of the refusal message
};

const std::string kElf(
    "\x7f"
    "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0",
    16);
const std::string kPe =
    std::string("MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0", 16) + std::string(48, '\0');
const std::string kMachO64("\xcf\xfa\xed\xfe\x07\0\0\x01", 8);
const std::string kMachOFat("\xca\xfe\xba\xbe\0\0\0\x02", 8);

TEST(FileTypes, Table) {
  const Case cases[] = {
      // Allowed kinds, any case.
      {"/data/q4.csv", "region,total\nnorth,1\n", "ok"},
      {"/notes.MD", "# hi", "ok"},
      {"/a/b.JSON", "{}", "ok"},
      {"/x.jsonl", "{}\n", "ok"},
      {"/x.py", "print(1)\n", "ok"},
      {"/x.ipynb", "{}", "ok"},
      {"/chart.png", "\x89PNG\r\n\x1a\n", "ok"},
      {"/photo.JPEG", "\xff\xd8\xff", "ok"},
      {"/report.pdf", "%PDF-1.7", "ok"},
      {"/song.mp3", "ID3", "ok"},
      {"/clip.webm", "\x1a\x45\xdf\xa3", "ok"},
      {"/book.xlsx", "PK\x03\x04", "ok"},  // office files are zips inside: fine
      {"/old.xls", "\xd0\xcf\x11\xe0", "ok"},
      {"/deck.pptx", "PK\x03\x04", "ok"},
      {"/table.parquet", "PAR1", "ok"},
      {"/empty.txt", "", "ok"},
      {"/mz.csv", "MZ,Region\nEU,1\n", "ok"},  // text that happens to start with MZ
      {"/archive.tar.gz.txt", "text", "ok"},   // the last extension decides
      // Blocked by extension, with the reason.
      {"/tool.exe", "", "executables and shared libraries"},
      {"/lib.so", "", "executables and shared libraries"},
      {"/lib.DLL", "", "executables and shared libraries"},
      {"/Lib.dylib", "", "executables and shared libraries"},
      {"/setup.msi", "", "executables and shared libraries"},
      {"/report.pdf.exe", "%PDF", "executables and shared libraries"},
      {"/run.sh", "echo hi", "scripts"},
      {"/run.BAT", "echo hi", "scripts"},
      {"/x.ps1", "", "scripts"},
      {"/x.vbs", "", "scripts"},
      {"/x.cmd", "", "scripts"},
      {"/x.zip", "PK\x03\x04", "archives"},
      {"/x.tar", "", "archives"},
      {"/x.tgz", "", "archives"},
      {"/x.7z", "", "archives"},
      {"/x.jar", "", "archives"},
      {"/x.deb", "", "archives"},
      {"/boot.sys", "", "system files"},
      {"/app.ini", "[a]", "system files"},
      {"/nginx.conf", "", "system files"},
      {"/x.reg", "", "system files"},
      // Unknown or missing extension: refused, naming what is supported.
      {"/x.xyz", "hello", "unsupported type: '.xyz' files are not accepted"},
      {"/Makefile", "all:", "files without an extension"},
      {"/.bashrc", "alias", "files without an extension"},
      {"/trailingdot.", "x", "unsupported type"},
      // Blocked by content whatever the name says.
      {"/report.csv", kElf, "ELF"},
      {"/photo.png", kPe, "PE/DOS"},
      {"/data.json", kMachO64, "Mach-O"},
      {"/data.bin.txt", kMachOFat, "Mach-O"},
      {"/notes.txt", "#!/bin/sh\nrm -rf ~\n", "script"},
      // In source code of a language that runs it, a #! line is ordinary.
      {"/analysis.py", "#!/usr/bin/env python3\nprint(1)\n", "ok"},
      {"/tool.js", "#!/usr/bin/env node\n", "ok"},
  };
  for (const Case& c : cases) {
    Status s = check_drive_type(c.path, c.content);
    if (c.want == "ok") {
      EXPECT_TRUE(s) << c.path << ": " << s.message();
    } else {
      ASSERT_FALSE(s) << c.path << " accepted";
      EXPECT_EQ(s.kind(), ErrorKind::kUnsupportedType) << c.path;
      EXPECT_NE(s.message().find(c.want), std::string::npos) << c.path << ": " << s.message();
    }
  }
}

TEST(FileTypes, UnsupportedMessageListsTheKinds) {
  Status s = check_drive_type("/x.weird", "");
  ASSERT_FALSE(s);
  for (const char* kind :
       {"text and code", "images", "PDF", "audio", "video", "office documents", "data files"}) {
    EXPECT_NE(s.message().find(kind), std::string::npos) << s.message();
  }
}

TEST(FileTypes, OnlyTheLeadingBytesAreSniffed) {
  // An ELF magic later in a text file is just text.
  EXPECT_TRUE(check_drive_type("/log.txt",
                               "boot: \x7f"
                               "ELF seen\n"));
  EXPECT_TRUE(check_drive_type("/x.md", "see #!/bin/sh"));
}

}  // namespace
}  // namespace kiln::storage
