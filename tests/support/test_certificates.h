// Certificates for the TLS tests, made once per test process with openssl
// in the test's temporary directory: a CA (ca.pem), a server certificate
// for 127.0.0.1 and localhost (server.pem, server.key), one for a service
// name only, as in a cluster (named.pem, named.key), a client certificate
// (client.pem, client.key, CN edge-1), all signed by the CA; and a second
// CA (other-ca.pem) with a client certificate of its own (stranger.pem,
// stranger.key).
#ifndef SPEX_TESTS_SUPPORT_TEST_CERTIFICATES_H_
#define SPEX_TESTS_SUPPORT_TEST_CERTIFICATES_H_

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace spex {

struct TestCertificates {
  std::string dir;
  std::string Path(const std::string& name) const { return dir + "/" + name; }
};

inline const TestCertificates& Certificates() {
  static const TestCertificates* certificates = [] {
    auto* c = new TestCertificates{testing::TempDir() + "/spex_tls_" +
                                   std::to_string(::getpid())};
    const std::string script = R"(set -e
cd ")" + c->dir + R"("
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj /CN=spex-test-ca
openssl req -x509 $ec -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=other-ca
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > server.ext
openssl req $ec -keyout server.key -out server.csr -subj /CN=127.0.0.1
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.pem
printf 'subjectAltName=DNS:spex-cloud.spex.svc\n' > named.ext
openssl req $ec -keyout named.key -out named.csr -subj /CN=spex-cloud
openssl x509 -req -in named.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile named.ext -out named.pem
openssl req $ec -keyout client.key -out client.csr -subj /CN=edge-1
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out client.pem
openssl req $ec -keyout stranger.key -out stranger.csr -subj /CN=stranger
openssl x509 -req -in stranger.csr -CA other-ca.pem -CAkey other-ca.key -CAcreateserial -days 2 -out stranger.pem
)";
    std::filesystem::create_directories(c->dir);
    const std::string script_path = c->dir + "/make.sh";
    std::ofstream(script_path) << script;
    const int status =
        std::system(("bash " + script_path + " >/dev/null 2>&1").c_str());
    EXPECT_EQ(status, 0) << "openssl failed";
    return c;
  }();
  return *certificates;
}

}  // namespace spex

#endif  // SPEX_TESTS_SUPPORT_TEST_CERTIFICATES_H_
