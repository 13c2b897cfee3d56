#include "storage/keys.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "storage/schema.h"
#include "storage/test_temp_dir.h"

namespace kiln::storage {
namespace {

using testing::TempDir;

// prefix followed by exactly `n` lower-case hex characters.
bool is_prefixed_hex(const std::string& s, const std::string& prefix, std::size_t n) {
  if (s.size() != prefix.size() + n || s.compare(0, prefix.size(), prefix) != 0) return false;
  return s.find_first_not_of("0123456789abcdef", prefix.size()) == std::string::npos;
}

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::open(dir_ / "kiln.db");
    ASSERT_TRUE(db.is_ok()) << db.status().message();
    db_.emplace(std::move(*db));
    ASSERT_TRUE(migrate(*db_));
    keys_.emplace(*db_);
  }

  TempDir dir_;
  std::optional<Database> db_;
  std::optional<KeyStore> keys_;
};

TEST_F(KeysTest, CreateAuthenticateRevoke) {
  auto k = keys_->create("team-a");
  ASSERT_TRUE(k.is_ok()) << k.status().message();
  EXPECT_TRUE(is_prefixed_hex(k->id, "key_", 8)) << k->id;
  EXPECT_TRUE(is_prefixed_hex(k->key, "kiln_", 40)) << k->key;
  EXPECT_EQ(k->workspace, "team-a");

  auto auth = keys_->authenticate(k->key);
  ASSERT_TRUE(auth.is_ok());
  ASSERT_TRUE(auth->has_value());
  EXPECT_EQ((*auth)->key_id, k->id);
  EXPECT_EQ((*auth)->workspace, "team-a");
  EXPECT_TRUE(*keys_->any_keys());

  ASSERT_TRUE(keys_->revoke(k->id));
  auth = keys_->authenticate(k->key);
  ASSERT_TRUE(auth.is_ok());
  EXPECT_FALSE(auth->has_value());
  EXPECT_FALSE(*keys_->any_keys());
  EXPECT_TRUE(keys_->revoke(k->id));  // already revoked: no-op

  Status missing = keys_->revoke("key_00000000");
  EXPECT_FALSE(missing);
  EXPECT_EQ(missing.kind(), ErrorKind::kNotFound);
}

TEST_F(KeysTest, E2bKeysAuthenticateTheirWorkspace) {
  auto k = keys_->create("team-e", KeyStore::Flavor::kE2b);
  ASSERT_TRUE(k.is_ok()) << k.status().message();
  EXPECT_TRUE(is_prefixed_hex(k->key, "e2b_", 40)) << k->key;
  auto found = keys_->authenticate(k->key);
  ASSERT_TRUE(found.is_ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->workspace, "team-e");
  // The same secret under the other prefix is another (unknown) key.
  auto other = keys_->authenticate("kiln_" + k->key.substr(4));
  ASSERT_TRUE(other.is_ok());
  EXPECT_FALSE(other->has_value());
}

TEST_F(KeysTest, RejectsWrongAndMalformedKeys) {
  auto k = keys_->create("ws");
  ASSERT_TRUE(k.is_ok());
  std::string wrong = k->key;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  for (const std::string& bad :
       {wrong, std::string(""), std::string("kiln_"), k->key + "0", k->key.substr(1),
        std::string("Bearer ") + k->key, std::string("kiln_") + std::string(40, 'G')}) {
    auto auth = keys_->authenticate(bad);
    ASSERT_TRUE(auth.is_ok());
    EXPECT_FALSE(auth->has_value()) << bad;
  }
}

TEST_F(KeysTest, ListShowsPrefixAndRevocation) {
  EXPECT_FALSE(*keys_->any_keys());
  auto a = keys_->create("alpha");
  auto b = keys_->create("beta");
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  ASSERT_TRUE(keys_->revoke(a->id));
  auto list = keys_->list();
  ASSERT_TRUE(list.is_ok());
  ASSERT_EQ(list->size(), 2u);
  for (const KeyInfo& info : *list) {
    const NewKey& k = info.id == a->id ? *a : *b;
    EXPECT_EQ(info.workspace, k.workspace);
    EXPECT_EQ(info.key_prefix, k.key.substr(0, 9));
    EXPECT_EQ(info.revoked, info.id == a->id);
  }
}

TEST_F(KeysTest, WorkspaceNameRules) {
  EXPECT_TRUE(validate_workspace_name("A-z_09"));
  EXPECT_TRUE(validate_workspace_name(std::string(64, 'w')));
  for (const std::string& bad : {std::string(""), std::string(65, 'w'), std::string("a b"),
                                 std::string("a/b"), std::string("é"), std::string("a.b")}) {
    Status s = validate_workspace_name(bad);
    EXPECT_FALSE(s) << bad;
    EXPECT_EQ(s.kind(), ErrorKind::kInvalid);
    EXPECT_FALSE(keys_->create(bad).is_ok()) << bad;
  }
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(KeysTest, OnlyTheHashIsStored) {
  auto k = keys_->create("secretive");
  ASSERT_TRUE(k.is_ok());
  std::string secret_part = k->key.substr(9);  // what the stored prefix does not show
  // WAL mode: the row may still be only in the -wal file, so search both,
  // then again after a checkpoint moves it into the main file.
  auto check = [&] {
    for (const char* suffix : {"", "-wal"}) {
      std::string bytes = slurp(dir_ / (std::string("kiln.db") + suffix));
      EXPECT_EQ(bytes.find(secret_part), std::string::npos) << "plaintext in kiln.db" << suffix;
    }
  };
  check();
  ASSERT_TRUE(db_->exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  check();
  EXPECT_NE(slurp(dir_ / "kiln.db").find(k->id), std::string::npos);  // sanity: rows are there
}

}  // namespace
}  // namespace kiln::storage
