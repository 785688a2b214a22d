#pragma once

#include <string>

namespace payorch::testing {

// Certificates for TLS tests, made by the openssl CLI in a folder of the test's own:
//   - a CA, and a server certificate it signed for 127.0.0.1 and localhost (and the name
//     "adapter.test", for tests of the server-name override);
//   - a client certificate the same CA signed (mutual TLS);
//   - a second, unrelated CA with a server and a client certificate of its own: what a test uses
//     to prove that a certificate the expected CA did not sign is refused.
// Paths are PEM files. Throws when openssl fails (the test cannot run without them).
struct TlsCertificates {
  std::string dir;
  std::string ca_cert;
  std::string server_cert, server_key;
  std::string client_cert, client_key;
  std::string rogue_ca_cert;
  std::string rogue_server_cert, rogue_server_key;
  std::string rogue_client_cert, rogue_client_key;
};

// Makes a fresh set under a new temporary folder (cheap: about 0.2 s; keys are EC P-256).
TlsCertificates MakeTlsCertificates();

}  // namespace payorch::testing
