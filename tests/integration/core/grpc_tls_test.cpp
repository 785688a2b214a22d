// TLS and mutual TLS between a gRPC client and server built by services/core/grpc_tls, with
// certificates the test makes: the handshake succeeds only with the right CA, the right name and,
// under mutual TLS, a client certificate the server's CA signed.
#include "services/core/grpc_tls.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "payorch/gateway/v1/gateway.grpc.pb.h"
#include "tests/support/process.hpp"
#include "tests/support/tls_certificates.hpp"

namespace payorch::core {
namespace {

using testing::MakeTlsCertificates;
using testing::TlsCertificates;

class GrpcTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { certs_ = new TlsCertificates(MakeTlsCertificates()); }
  static void TearDownTestSuite() { delete certs_; }

  // Starts a server with `tls` on a free loopback port; its address.
  std::string StartServer(const GrpcServerTls& tls) {
    auto credentials = MakeServerCredentials(tls);
    EXPECT_TRUE(credentials.ok()) << credentials.error();
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);  // a server needs a service; the handshake is the test
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", credentials.value(), &port);
    server_ = builder.BuildAndStart();
    EXPECT_NE(server_, nullptr);
    EXPECT_GT(port, 0);
    return "127.0.0.1:" + std::to_string(port);
  }

  // True when a channel with `tls` completes its handshake within a bound.
  static bool Connects(const std::string& address, const GrpcClientTls& tls) {
    auto channel = MakeChannel(address, tls);
    EXPECT_TRUE(channel.ok()) << channel.error();
    return channel.value()->WaitForConnected(std::chrono::system_clock::now() +
                                             std::chrono::seconds(2));
  }

  GrpcServerTls ServerTls(bool mutual) const {
    return {certs_->server_cert, certs_->server_key, mutual ? certs_->ca_cert : ""};
  }
  GrpcClientTls ClientTls(bool with_client_cert) const {
    GrpcClientTls tls{true, certs_->ca_cert, "", "", ""};
    if (with_client_cert) {
      tls.cert_file = certs_->client_cert;
      tls.key_file = certs_->client_key;
    }
    return tls;
  }

  static TlsCertificates* certs_;
  gateway::v1::PaymentGateway::CallbackService service_;
  std::unique_ptr<grpc::Server> server_;
};

TlsCertificates* GrpcTlsTest::certs_ = nullptr;

TEST_F(GrpcTlsTest, ClientTrustingTheServersCaConnects) {
  const std::string address = StartServer(ServerTls(false));
  EXPECT_TRUE(Connects(address, ClientTls(false)));
}

TEST_F(GrpcTlsTest, ServerCertificateFromAnotherCaIsRefused) {
  const std::string address =
      StartServer({certs_->rogue_server_cert, certs_->rogue_server_key, ""});
  EXPECT_FALSE(Connects(address, ClientTls(false)));
}

TEST_F(GrpcTlsTest, PlaintextClientCannotTalkToTlsServer) {
  const std::string address = StartServer(ServerTls(false));
  EXPECT_FALSE(Connects(address, GrpcClientTls{}));
}

TEST_F(GrpcTlsTest, ServerNameOverrideIsCheckedAgainstTheCertificate) {
  const std::string address = StartServer(ServerTls(false));
  GrpcClientTls tls = ClientTls(false);
  tls.server_name = "adapter.test";  // in the certificate
  EXPECT_TRUE(Connects(address, tls));
  tls.server_name = "elsewhere.test";  // not in it
  EXPECT_FALSE(Connects(address, tls));
}

TEST_F(GrpcTlsTest, MutualTlsAcceptsOnlyClientCertificatesItsCaSigned) {
  const std::string address = StartServer(ServerTls(true));
  EXPECT_TRUE(Connects(address, ClientTls(true)));
  EXPECT_FALSE(Connects(address, ClientTls(false)));  // no client certificate
  GrpcClientTls rogue = ClientTls(false);
  rogue.cert_file = certs_->rogue_client_cert;
  rogue.key_file = certs_->rogue_client_key;
  EXPECT_FALSE(Connects(address, rogue));
}

TEST_F(GrpcTlsTest, BadSettingsAreNamedErrors) {
  GrpcClientTls half{true, certs_->ca_cert, certs_->client_cert, "", ""};
  auto credentials = MakeChannelCredentials(half);
  ASSERT_FALSE(credentials.ok());
  EXPECT_NE(credentials.error().find("key"), std::string::npos);

  GrpcClientTls missing{true, "/nonexistent/ca.pem", "", "", ""};
  credentials = MakeChannelCredentials(missing);
  ASSERT_FALSE(credentials.ok());
  EXPECT_NE(credentials.error().find("ca_file: cannot read /nonexistent/ca.pem"), std::string::npos);

  GrpcClientTls files_without_tls{false, certs_->ca_cert, "", "", ""};
  EXPECT_FALSE(MakeChannelCredentials(files_without_tls).ok());

  auto server = MakeServerCredentials({certs_->server_cert, "", ""});
  ASSERT_FALSE(server.ok());
  server = MakeServerCredentials({certs_->server_cert, certs_->ca_cert + ".missing", ""});
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.error().find("key_file"), std::string::npos);
}

}  // namespace
}  // namespace payorch::core
