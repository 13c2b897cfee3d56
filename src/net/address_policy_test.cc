// Classifier and allowlist tests. Pure: nothing here resolves or connects.
#include "net/address_policy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>

namespace kiln::net {
namespace {

namespace ip = boost::asio::ip;

struct Case {
  const char* address;
  AddressClass expected;
};

const Case kCases[] = {
    // public
    {"8.8.8.8", AddressClass::kPublic},
    {"1.1.1.1", AddressClass::kPublic},
    {"93.184.216.34", AddressClass::kPublic},
    {"2606:4700::1", AddressClass::kPublic},
    {"2a00:1450:4001:80b::200e", AddressClass::kPublic},
    {"172.15.255.255", AddressClass::kPublic},    // just below 172.16/12
    {"172.32.0.0", AddressClass::kPublic},        // just above
    {"100.63.255.255", AddressClass::kPublic},    // just below 100.64/10
    {"100.128.0.0", AddressClass::kPublic},       // just above
    {"64:ff9b::808:808", AddressClass::kPublic},  // NAT64 of 8.8.8.8
    {"::ffff:8.8.8.8", AddressClass::kPublic},
    {"2002:808:808::1", AddressClass::kPublic},  // 6to4 of 8.8.8.8
    // loopback
    {"127.0.0.1", AddressClass::kLoopback},
    {"127.255.255.254", AddressClass::kLoopback},
    {"127.0.0.2", AddressClass::kLoopback},
    {"::1", AddressClass::kLoopback},
    {"::ffff:127.0.0.1", AddressClass::kLoopback},
    {"::ffff:7f00:1", AddressClass::kLoopback},  // same, hex spelling
    {"::127.0.0.1", AddressClass::kLoopback},    // IPv4-compatible
    {"64:ff9b::7f00:1", AddressClass::kLoopback},
    {"2002:7f00:1::", AddressClass::kLoopback},                         // 6to4 wrapping 127.0.0.1
    {"2001:0:4136:e378:8000:63bf:80ff:fffe", AddressClass::kLoopback},  // Teredo, client 127.0.0.1
    // unspecified
    {"0.0.0.0", AddressClass::kUnspecified},
    {"0.1.2.3", AddressClass::kUnspecified},
    {"::", AddressClass::kUnspecified},
    {"::ffff:0.0.0.0", AddressClass::kUnspecified},
    // private
    {"10.0.0.1", AddressClass::kPrivate},
    {"10.255.255.255", AddressClass::kPrivate},
    {"172.16.0.1", AddressClass::kPrivate},
    {"172.31.255.255", AddressClass::kPrivate},
    {"192.168.1.1", AddressClass::kPrivate},
    {"fc00::1", AddressClass::kPrivate},
    {"fd12:3456:789a::1", AddressClass::kPrivate},
    {"::ffff:10.1.2.3", AddressClass::kPrivate},
    {"::ffff:192.168.0.1", AddressClass::kPrivate},
    {"64:ff9b::a00:1", AddressClass::kPrivate},    // NAT64 of 10.0.0.1
    {"64:ff9b:1::1", AddressClass::kPrivate},      // NAT64 local-use prefix
    {"2002:c0a8:101::1", AddressClass::kPrivate},  // 6to4 of 192.168.1.1
    // link-local and metadata
    {"169.254.0.1", AddressClass::kLinkLocal},
    {"169.254.255.255", AddressClass::kLinkLocal},
    {"fe80::1", AddressClass::kLinkLocal},
    {"febf:ffff::1", AddressClass::kLinkLocal},
    {"169.254.169.254", AddressClass::kMetadata},
    {"::ffff:169.254.169.254", AddressClass::kMetadata},
    {"64:ff9b::a9fe:a9fe", AddressClass::kMetadata},
    {"169.254.170.2", AddressClass::kMetadata},
    {"100.100.100.200", AddressClass::kMetadata},
    {"fd00:ec2::254", AddressClass::kMetadata},
    // CGNAT
    {"100.64.0.1", AddressClass::kCgnat},
    {"100.127.255.255", AddressClass::kCgnat},
    {"::ffff:100.64.0.1", AddressClass::kCgnat},
    // multicast and broadcast
    {"224.0.0.1", AddressClass::kMulticast},
    {"239.255.255.250", AddressClass::kMulticast},
    {"ff02::1", AddressClass::kMulticast},
    {"ff05::1:3", AddressClass::kMulticast},
    {"255.255.255.255", AddressClass::kBroadcast},
    // reserved
    {"240.0.0.1", AddressClass::kReserved},
    {"255.255.255.254", AddressClass::kReserved},
    {"192.88.99.1", AddressClass::kReserved},  // 6to4 relay anycast
    {"::8.8.8.8", AddressClass::kReserved},    // deprecated IPv4-compatible
    {"100::1", AddressClass::kReserved},       // discard-only
    {"4000::1", AddressClass::kReserved},      // outside 2000::/3
    {"5f00::1", AddressClass::kReserved},
    // documentation
    {"192.0.2.1", AddressClass::kDocumentation},
    {"198.51.100.7", AddressClass::kDocumentation},
    {"203.0.113.9", AddressClass::kDocumentation},
    {"2001:db8::1", AddressClass::kDocumentation},
    {"3fff::1", AddressClass::kDocumentation},
    // benchmarking
    {"198.18.0.1", AddressClass::kBenchmarking},
    {"198.19.255.255", AddressClass::kBenchmarking},
    {"2001:2::1", AddressClass::kBenchmarking},
    // IETF protocol assignments
    {"192.0.0.1", AddressClass::kProtocolAssignment},
    {"192.0.0.170", AddressClass::kProtocolAssignment},
    {"2001:10::1", AddressClass::kProtocolAssignment},
    // site-local
    {"fec0::1", AddressClass::kSiteLocal},
    {"feff::1", AddressClass::kSiteLocal},
};

TEST(AddressPolicy, ClassifierTable) {
  ASSERT_GE(std::size(kCases), 40u);
  for (const Case& c : kCases) {
    boost::system::error_code ec;
    ip::address a = ip::make_address(c.address, ec);
    ASSERT_FALSE(ec) << c.address;
    EXPECT_STREQ(address_class_name(classify(a)), address_class_name(c.expected)) << c.address;
  }
}

TEST(AddressPolicy, ClassifiesSockaddr) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  ASSERT_EQ(inet_pton(AF_INET, "169.254.169.254", &in.sin_addr), 1);
  Result<AddressClass> c = classify(reinterpret_cast<const sockaddr*>(&in), sizeof in);
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, AddressClass::kMetadata);

  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  ASSERT_EQ(inet_pton(AF_INET6, "::ffff:10.1.2.3", &in6.sin6_addr), 1);
  c = classify(reinterpret_cast<const sockaddr*>(&in6), sizeof in6);
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, AddressClass::kPrivate);

  // Too short for its family, and a non-IP family.
  c = classify(reinterpret_cast<const sockaddr*>(&in6), sizeof(sockaddr_in));
  EXPECT_FALSE(c);
  EXPECT_EQ(c.status().kind(), ErrorKind::kInvalid);
  sockaddr un{};
  un.sa_family = AF_UNIX;
  c = classify(&un, sizeof un);
  EXPECT_FALSE(c);
  EXPECT_EQ(c.status().kind(), ErrorKind::kInvalid);
}

TEST(AddressPolicy, Names) {
  EXPECT_STREQ(address_class_name(AddressClass::kLinkLocal), "link-local");
  EXPECT_STREQ(address_class_name(AddressClass::kMetadata), "metadata");
  EXPECT_STREQ(address_class_name(AddressClass::kCgnat), "cgnat");
}

TEST(AddressPolicy, DefaultAllowsOnlyPublic) {
  AddressPolicy p;
  EXPECT_TRUE(p.check(ip::make_address("8.8.8.8")));
  EXPECT_TRUE(p.check(ip::make_address("2606:4700::1")));
  Status s = p.check(ip::make_address("127.0.0.1"));
  EXPECT_FALSE(s);
  EXPECT_EQ(s.kind(), ErrorKind::kInvalid);
  EXPECT_EQ(s.message(), "127.0.0.1 is a loopback address");
  EXPECT_EQ(p.check(ip::make_address("169.254.169.254")).message(),
            "169.254.169.254 is a metadata address");
  EXPECT_EQ(p.check(ip::make_address("::")).message(), ":: is an unspecified address");
}

TEST(AddressPolicy, CidrAllowlist) {
  Result<AddressPolicy> r =
      AddressPolicy::from_allowlist({"127.0.0.1/32", "10.0.0.0/8", "fd00::/8"});
  ASSERT_TRUE(r) << r.status().message();
  const AddressPolicy& p = *r;
  EXPECT_TRUE(p.check(ip::make_address("127.0.0.1")));
  EXPECT_TRUE(p.check(ip::make_address("::ffff:127.0.0.1")));  // mapped form too
  EXPECT_FALSE(p.check(ip::make_address("127.0.0.2")));
  EXPECT_FALSE(p.check(ip::make_address("::1")));
  EXPECT_TRUE(p.check(ip::make_address("10.200.1.1")));
  EXPECT_TRUE(p.check(ip::make_address("11.0.0.0")));
  EXPECT_TRUE(p.check(ip::make_address("fd12::1")));
  EXPECT_FALSE(p.check(ip::make_address("fc00::1")));
  EXPECT_FALSE(p.check(ip::make_address("169.254.169.254")));
  EXPECT_FALSE(p.check(ip::make_address("192.168.0.1")));
  EXPECT_TRUE(p.check(ip::make_address("8.8.8.8")));
}

TEST(AddressPolicy, CidrParsing) {
  EXPECT_TRUE(Cidr::parse("0.0.0.0/0"));
  EXPECT_TRUE(Cidr::parse("::/0"));
  EXPECT_TRUE(Cidr::parse("192.168.0.0/16"));
  EXPECT_TRUE(Cidr::parse("169.254.169.254"));
  EXPECT_EQ(Cidr::parse("169.254.169.254")->to_string(), "169.254.169.254/32");
  EXPECT_EQ(Cidr::parse("fe80::/10")->to_string(), "fe80::/10");
  EXPECT_FALSE(Cidr::parse("10.0.0.1/8"));  // host bits set
  EXPECT_FALSE(Cidr::parse("10.0.0.0/33"));
  EXPECT_FALSE(Cidr::parse("10.0.0.0/"));
  EXPECT_FALSE(Cidr::parse("10.0.0.0/-1"));
  EXPECT_FALSE(Cidr::parse("10.0.0/8"));
  EXPECT_FALSE(Cidr::parse("::1/129"));
  EXPECT_TRUE(Cidr::parse("172.16.0.0/12")->contains(ip::make_address("172.31.1.1")));
  EXPECT_FALSE(Cidr::parse("172.16.0.0/12")->contains(ip::make_address("172.32.0.0")));
  EXPECT_TRUE(Cidr::parse("0.0.0.0/0")->contains(ip::make_address("1.2.3.4")));
  EXPECT_FALSE(Cidr::parse("0.0.0.0/0")->contains(ip::make_address("2001:db8::1")));
}

TEST(AddressPolicy, HostAllowlist) {
  AddressPolicy p;
  ASSERT_TRUE(p.allow("Files.Internal."));
  ASSERT_TRUE(p.allow("  minio  "));
  EXPECT_TRUE(p.host_allowed("files.internal"));
  EXPECT_TRUE(p.host_allowed("FILES.INTERNAL."));
  EXPECT_TRUE(p.host_allowed("minio"));
  EXPECT_FALSE(p.host_allowed("evil.files.internal"));
  EXPECT_FALSE(p.host_allowed(""));
  // Whatever an allowlisted name resolves to is allowed; other names are not.
  EXPECT_TRUE(p.check(ip::make_address("10.0.0.5"), "files.internal"));
  EXPECT_TRUE(p.check(ip::make_address("127.0.0.1"), "minio"));
  EXPECT_FALSE(p.check(ip::make_address("10.0.0.5"), "other.internal"));
  EXPECT_FALSE(p.check(ip::make_address("10.0.0.5")));

  EXPECT_FALSE(p.allow("bad host"));
  EXPECT_FALSE(p.allow(""));
  EXPECT_FALSE(p.allow("a..b"));
  EXPECT_FALSE(p.allow("10.0.0.1/8"));
  EXPECT_FALSE(AddressPolicy::from_allowlist({"ok.example", "not a host"}));
}

}  // namespace
}  // namespace kiln::net
