// DSN helpers of daemon/pg.h: settings appended in both libpq forms, never overriding the
// user's, and passwords masked for logs.
#include <gtest/gtest.h>

#include "daemon/pg.h"

namespace ctd::pg {
namespace {

TEST(PgDsnTest, ConnectTimeoutIsAppendedInBothForms) {
  EXPECT_EQ(with_connect_timeout("host=db dbname=ctd", 7), "host=db dbname=ctd connect_timeout=7");
  EXPECT_EQ(with_connect_timeout("postgresql://u@db/ctd", 7),
            "postgresql://u@db/ctd?connect_timeout=7");
  EXPECT_EQ(with_connect_timeout("postgres://u@db/ctd?sslmode=require", 7),
            "postgres://u@db/ctd?sslmode=require&connect_timeout=7");
}

TEST(PgDsnTest, SettingsTheUserGaveAreKept) {
  EXPECT_EQ(with_connect_timeout("host=db connect_timeout=60", 7), "host=db connect_timeout=60");
  const std::string dsn = with_liveness_checks("host=db tcp_user_timeout=5000", 10);
  EXPECT_NE(dsn.find("tcp_user_timeout=5000"), std::string::npos);
  EXPECT_EQ(dsn.find("tcp_user_timeout=30000"), std::string::npos);
}

TEST(PgDsnTest, LivenessChecksAddKeepalivesAndUserTimeout) {
  const std::string dsn = with_liveness_checks("postgresql://u@db/ctd", 10);
  EXPECT_EQ(dsn,
            "postgresql://u@db/ctd?connect_timeout=10&keepalives_idle=10&keepalives_interval=5"
            "&keepalives_count=3&tcp_user_timeout=30000");
}

TEST(PgDsnTest, PasswordsAreMaskedInBothForms) {
  EXPECT_EQ(mask_dsn("postgresql://ctd:s3cret@db/ctd"), "postgresql://ctd:*****@db/ctd");
  EXPECT_EQ(mask_dsn("host=db password=s3cret user=ctd"), "host=db password=***** user=ctd");
  EXPECT_EQ(mask_dsn("host=db password='a b' user=ctd"), "host=db password=***** user=ctd");
  EXPECT_EQ(mask_dsn("host=db user=ctd"), "host=db user=ctd");
}

}  // namespace
}  // namespace ctd::pg
