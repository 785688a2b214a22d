// The in-process sandbox adapter with TLS and mutual TLS (SandboxOptions::tls): every service on
// the port (PaymentGateway, SandboxControl, grpc.health.v1.Health) is reached with the right
// credentials and refused without them. Certificates are made by the test (openssl).
#include <gtest/gtest.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include "gateways/sandbox/sandbox_server.hpp"
#include "payorch/gateway/v1/gateway.grpc.pb.h"
#include "sandbox_control.grpc.pb.h"
#include "services/admin/health_check.hpp"
#include "services/core/grpc_tls.hpp"
#include "tests/support/tls_certificates.hpp"

namespace payorch::gateways::sandbox {
namespace {

namespace v1 = payorch::gateway::v1;
namespace sv1 = payorch::sandbox::v1;
using std::chrono::milliseconds;

constexpr milliseconds kDeadline{5000};

class SandboxTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new testing::TlsCertificates(testing::MakeTlsCertificates());
  }
  static void TearDownTestSuite() { delete certs_; }

  static SandboxOptions Mutual() {
    SandboxOptions options;
    options.tls = {certs_->server_cert, certs_->server_key, certs_->ca_cert};
    return options;
  }
  static core::GrpcClientTls Client(bool with_certificate) {
    core::GrpcClientTls tls{true, certs_->ca_cert, "", "", ""};
    if (with_certificate) {
      tls.cert_file = certs_->client_cert;
      tls.key_file = certs_->client_key;
    }
    return tls;
  }
  static std::shared_ptr<grpc::Channel> Channel(const SandboxServer& sandbox,
                                                const core::GrpcClientTls& tls) {
    auto channel = core::MakeChannel(sandbox.address(), tls);
    if (!channel) throw std::runtime_error(channel.error());
    return channel.value();
  }
  static grpc::Status Authorize(const std::shared_ptr<grpc::Channel>& channel,
                                const std::string& key, v1::PaymentResult& result) {
    auto stub = v1::PaymentGateway::NewStub(channel);
    v1::AuthorizeRequest request;
    request.mutable_meta()->set_idempotency_key(key);
    request.mutable_event()->set_token("approve");
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kDeadline);
    return stub->Authorize(&context, request, &result);
  }

  static testing::TlsCertificates* certs_;
};

testing::TlsCertificates* SandboxTlsTest::certs_ = nullptr;

TEST_F(SandboxTlsTest, MutualTlsServesEveryServiceToAClientWithTheRightCertificate) {
  SandboxServer sandbox(Mutual());
  auto channel = Channel(sandbox, Client(true));

  v1::PaymentResult result;
  const auto status = Authorize(channel, "tls-1", result);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(result.status(), v1::PaymentResult::APPROVED);

  auto control = sv1::SandboxControl::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kDeadline);
  sv1::GetEffectsRequest request;
  request.set_idempotency_key("tls-1");
  sv1::GetEffectsResponse effects;
  ASSERT_TRUE(control->GetEffects(&context, request, &effects).ok());
  EXPECT_EQ(effects.effects(), 1);

  const auto health = admin::CheckAdapterHealth(sandbox.address(), "", kDeadline, Client(true));
  EXPECT_TRUE(health.Serving()) << health.grpc_status << ": " << health.error;
}

TEST_F(SandboxTlsTest, MutualTlsRefusesClientsWithoutAnAcceptedCertificate) {
  SandboxServer sandbox(Mutual());
  core::GrpcClientTls rogue = Client(false);
  rogue.cert_file = certs_->rogue_client_cert;
  rogue.key_file = certs_->rogue_client_key;
  core::GrpcClientTls plaintext;
  for (const auto& [name, tls] : {std::pair{"no client certificate", Client(false)},
                                  std::pair{"rogue client certificate", rogue},
                                  std::pair{"plaintext", plaintext}}) {
    SCOPED_TRACE(name);
    v1::PaymentResult result;
    auto channel = Channel(sandbox, tls);
    EXPECT_FALSE(Authorize(channel, std::string("tls-refused"), result).ok());
    const auto health = admin::CheckAdapterHealth(sandbox.address(), "", kDeadline, tls);
    EXPECT_FALSE(health.Serving());
    EXPECT_EQ(health.grpc_status, "UNAVAILABLE") << health.error;
  }
  // Nothing reached the adapter.
  EXPECT_FALSE(sandbox.store().Find("tls-refused").has_value());
}

TEST_F(SandboxTlsTest, ServerOnlyTlsAcceptsClientsThatTrustItsCa) {
  SandboxOptions options;
  options.tls = {certs_->server_cert, certs_->server_key, ""};
  SandboxServer sandbox(options);
  v1::PaymentResult result;
  EXPECT_TRUE(Authorize(Channel(sandbox, Client(false)), "tls-2", result).ok());

  core::GrpcClientTls wrong_ca = Client(false);
  wrong_ca.ca_file = certs_->rogue_ca_cert;
  const auto health = admin::CheckAdapterHealth(sandbox.address(), "", kDeadline, wrong_ca);
  EXPECT_FALSE(health.Serving());
  EXPECT_TRUE(health.tls_handshake_failed) << health.error;
  EXPECT_EQ(health.error.rfind("TLS handshake failed", 0), 0u) << health.error;
}

TEST_F(SandboxTlsTest, UnusableTlsFilesStopTheServerAtStart) {
  SandboxOptions missing;
  missing.tls = {certs_->dir + "/no-such.pem", certs_->server_key, ""};
  EXPECT_THROW(SandboxServer{missing}, std::runtime_error);
  SandboxOptions key_only;
  key_only.tls = {"", certs_->server_key, ""};
  EXPECT_THROW(SandboxServer{key_only}, std::runtime_error);
}

}  // namespace
}  // namespace payorch::gateways::sandbox
