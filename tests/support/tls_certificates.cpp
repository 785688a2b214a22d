#include "tests/support/tls_certificates.hpp"

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace payorch::testing {
namespace {

void Openssl(const std::vector<std::string>& args) {
  const CommandResult result = RunCommand("/usr/bin/openssl", args, {}, std::chrono::seconds(30));
  if (result.exit_code != 0) {
    throw std::runtime_error("openssl " + args.front() + " failed: " + result.output);
  }
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

// A self-signed CA: <dir>/<name>.pem and <name>.key.
void MakeCa(const std::string& dir, const std::string& name) {
  Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-days", "2", "-subj", "/CN=payorch test " + name, "-keyout", dir + "/" + name + ".key",
           "-out", dir + "/" + name + ".pem"});
}

// A leaf certificate <name>.pem/.key signed by the CA `ca`, for a server (with subjectAltNames)
// or a client.
void MakeLeaf(const std::string& dir, const std::string& ca, const std::string& name,
              bool server) {
  const std::string base = dir + "/" + name;
  Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj",
           "/CN=payorch test " + name, "-keyout", base + ".key", "-out", base + ".csr"});
  const std::string extensions = base + ".ext";
  WriteFile(extensions, server ? "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:adapter.test\n"
                                 "extendedKeyUsage=serverAuth\n"
                               : "extendedKeyUsage=clientAuth\n");
  Openssl({"x509", "-req", "-in", base + ".csr", "-CA", dir + "/" + ca + ".pem", "-CAkey",
           dir + "/" + ca + ".key", "-CAcreateserial", "-days", "2", "-extfile", extensions,
           "-out", base + ".pem"});
}

}  // namespace

TlsCertificates MakeTlsCertificates() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/payorch-tls-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
  const std::string dir(buffer.data());

  MakeCa(dir, "ca");
  MakeLeaf(dir, "ca", "server", true);
  MakeLeaf(dir, "ca", "client", false);
  MakeCa(dir, "rogue-ca");
  MakeLeaf(dir, "rogue-ca", "rogue-server", true);
  MakeLeaf(dir, "rogue-ca", "rogue-client", false);

  TlsCertificates certs;
  certs.dir = dir;
  certs.ca_cert = dir + "/ca.pem";
  certs.server_cert = dir + "/server.pem";
  certs.server_key = dir + "/server.key";
  certs.client_cert = dir + "/client.pem";
  certs.client_key = dir + "/client.key";
  certs.rogue_ca_cert = dir + "/rogue-ca.pem";
  certs.rogue_server_cert = dir + "/rogue-server.pem";
  certs.rogue_server_key = dir + "/rogue-server.key";
  certs.rogue_client_cert = dir + "/rogue-client.pem";
  certs.rogue_client_key = dir + "/rogue-client.key";
  return certs;
}

}  // namespace payorch::testing
