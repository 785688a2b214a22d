// payorch-fake-cleeng: the fake Cleeng Payment API as a process, for end-to-end tests only.
// Loopback only. Control endpoints (no token): GET /_fake/state, POST /_fake/faults
// {"kind":"500"|"429"|"hang"|"drop","count":N,"method":"POST","pathPrefix":"/3.1/orders",
//  "retryAfterSeconds":N,"hangMs":N}, POST /_fake/prices {"offerId","price","asString"}.
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "tests/fakes/cleeng/fake_cleeng_server.hpp"

int main(int argc, char** argv) {
  CLI::App app{"payorch-fake-cleeng: a fake Cleeng Payment API for tests (loopback only)"};
  payorch::testing::fakes::FakeCleengOptions options;
  std::string listen = "127.0.0.1:0";
  app.add_option("--listen", listen, "HOST:PORT on loopback; port 0 picks one");
  app.add_option("--publisher-token", options.publisher_token, "the X-Publisher-Token to require")
      ->envname("PAYORCH_CLEENG_PUBLISHER_TOKEN");
  app.add_option("--tls-cert", options.tls_certificate_file, "PEM certificate chain (HTTPS)");
  app.add_option("--tls-key", options.tls_key_file, "PEM private key (HTTPS)");
  CLI11_PARSE(app, argc, argv);

  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << "--listen must be HOST:PORT\n";
    return 2;
  }
  options.host = listen.substr(0, colon);
  try {
    options.port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
    std::cerr << "--listen has an invalid port\n";
    return 2;
  }

  // Block the stop signals before the server's thread starts, so only sigwait receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  try {
    payorch::testing::fakes::FakeCleengServer server(options);
    std::cout << "fake cleeng listening base_url=" << server.base_url() << std::endl;
    int received = 0;
    sigwait(&signals, &received);
  } catch (const std::exception& e) {
    std::cerr << "fake cleeng cannot start: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
