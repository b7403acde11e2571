#include "cloud_service/token_auth.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace spex {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(TokenAuthTest, AcceptsOnlyTheListedBearerTokens) {
  const std::string path = testing::TempDir() + "/tokens.txt";
  std::ofstream(path) << "# operators\nsecret-one\n\n  secret-two  \n";
  absl::StatusOr<TokenAuth> auth = TokenAuth::FromFile(path);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_TRUE(auth->Check("Bearer secret-one").ok());
  EXPECT_TRUE(auth->Check("Bearer secret-two").ok());
  for (const char* bad : {"Bearer secret", "Bearer secret-one ", "secret-one",
                          "Bearer ", "Basic c2VjcmV0", "Bearer # operators"}) {
    const absl::Status status = auth->Check(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << bad;
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr("secret-one")));
  }
  EXPECT_THAT(std::string(auth->Check("").message()), HasSubstr("missing"));
}

TEST(TokenAuthTest, FileErrorsAreNamed) {
  EXPECT_EQ(TokenAuth::FromFile("/nonexistent/tokens").status().code(),
            absl::StatusCode::kNotFound);
  const std::string empty = testing::TempDir() + "/empty-tokens.txt";
  std::ofstream(empty) << "# nothing\n\n";
  EXPECT_THAT(std::string(TokenAuth::FromFile(empty).status().message()),
              HasSubstr("holds no token"));
}

}  // namespace
}  // namespace spex
