#pragma once

// Helpers for the ingress fault tests: a load client that remembers every acknowledged event,
// and a throwaway PostgreSQL cluster the test may stop and start without disturbing anyone.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "tests/integration/ingress/raw_client.hpp"

namespace payorch::ingress::testing {

inline std::string AuthorisationFor(const std::string& subscription_id) {
  return R"({"broadcasterId":77,"topic":"subscriptionReadyForPaymentAuthorisation",)"
         R"("data":{"subscriptionId":")" + subscription_id +
         R"(","offerId":"S1_US","customerId":5,"dunningAttemptDate":"2026-11-04T19:55:41Z",)"
         R"("paymentMethodId":123123123,"token":"tok_en","currency":"USD"}})";
}

// `connections` threads, each posting unique events on a keep-alive connection (reconnecting
// when the server closes it), until Stop(). Every subscription id answered 200 is remembered.
class LoadClient {
 public:
  LoadClient(int port, int connections) {
    for (int i = 0; i < connections; ++i) {
      threads_.emplace_back([this, port, i] { Run(port, i); });
    }
  }
  ~LoadClient() { Stop(); }

  void Stop() {
    stop_ = true;
    for (auto& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }
  std::size_t acknowledged() const { return acknowledged_count_; }
  std::size_t unavailable() const { return unavailable_; }
  std::size_t other_statuses() const { return other_statuses_; }
  std::set<std::string> AcknowledgedKeys() const {
    std::lock_guard lock(mutex_);
    return keys_;
  }

 private:
  void Run(int port, int index) {
    std::unique_ptr<RawClient> client;
    for (int n = 0; !stop_; ++n) {
      const std::string key = "load-" + std::to_string(index) + "-" + std::to_string(n);
      try {
        if (!client) client = std::make_unique<RawClient>(port, std::chrono::seconds(10));
        if (!client->Send(RawPost("/v1/webhooks/cleeng", AuthorisationFor(key)))) {
          throw std::runtime_error("send failed");
        }
        const RawResponse response = client->Read();
        if (response.result_int() == 200) {
          std::lock_guard lock(mutex_);
          keys_.insert(key);
          ++acknowledged_count_;
        } else if (response.result_int() == 503) {
          ++unavailable_;
          if (response[boost::beast::http::field::retry_after].empty()) ++other_statuses_;
        } else {
          ++other_statuses_;
        }
        if (!response.keep_alive()) client.reset();
      } catch (const std::exception&) {
        // Refused, reset or closed: the server is gone or restarting. Back off a little so a
        // dead server does not turn this loop into a busy spin.
        client.reset();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }

  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::set<std::string> keys_;  // guarded by mutex_
  std::atomic<std::size_t> acknowledged_count_{0};
  std::atomic<std::size_t> unavailable_{0};
  std::atomic<std::size_t> other_statuses_{0};
};

// Subscription ids of every job in the database at `url`.
inline std::set<std::string> StoredSubscriptions(const std::string& url) {
  pqxx::connection connection(url);
  pqxx::nontransaction tx(connection);
  std::set<std::string> out;
  for (const auto& row : tx.exec("SELECT subscription_id FROM jobs")) {
    out.insert(row[0].as<std::string>());
  }
  return out;
}

// A private PostgreSQL cluster in a temporary folder (initdb/pg_ctl from the newest
// /usr/lib/postgresql/*/bin; as root they run as the `postgres` user, as scripts/lib/pg.sh
// does). Stop and Start keep the data. The destructor stops it and removes the folder.
class ThrowawayCluster {
 public:
  explicit ThrowawayCluster(int port) : port_(port) {
    std::vector<std::string> bins;
    for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql")) {
      if (std::filesystem::exists(entry.path() / "bin" / "initdb")) {
        bins.push_back((entry.path() / "bin").string());
      }
    }
    if (bins.empty()) throw std::runtime_error("no PostgreSQL server binaries found");
    std::sort(bins.begin(), bins.end());
    bin_ = bins.back();
    char pattern[] = "/tmp/payorch-ingress-pg-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    if (::geteuid() == 0) {
      as_owner_ = "runuser -u postgres -- ";
      Shell("chown postgres: " + dir_);
    }
    // fsync off: this cluster is about availability, not the disk; it keeps the test fast.
    Shell(as_owner_ + bin_ + "/initdb -D " + dir_ + "/data -U postgres --auth=trust " +
          "--encoding=UTF8 --locale=C.UTF-8 -N > " + dir_ + "/initdb.log 2>&1");
    Start();
  }
  ~ThrowawayCluster() {
    std::system((as_owner_ + bin_ + "/pg_ctl -D " + dir_ + "/data -m immediate -w -t 30 stop" +
                 " > /dev/null 2>&1")
                    .c_str());
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  ThrowawayCluster(const ThrowawayCluster&) = delete;
  ThrowawayCluster& operator=(const ThrowawayCluster&) = delete;

  void Start() {
    Shell(as_owner_ + bin_ + "/pg_ctl -D " + dir_ + "/data -l " + dir_ + "/server.log -w -t 30 " +
          "start -o \"-p " + std::to_string(port_) + " -k " + dir_ +
          " -c listen_addresses=127.0.0.1 -c fsync=off\" > /dev/null");
  }
  // Fast shutdown: open transactions are rolled back, connections are cut.
  void Stop() {
    Shell(as_owner_ + bin_ + "/pg_ctl -D " + dir_ + "/data -m fast -w -t 30 stop > /dev/null");
  }
  std::string url() const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres";
  }

 private:
  static void Shell(const std::string& command) {
    // `timeout` bounds every step; pg_ctl -w -t 30 bounds itself too.
    if (std::system(("timeout 60 " + command).c_str()) != 0) {
      throw std::runtime_error("command failed: " + command);
    }
  }

  int port_;
  std::string bin_;
  std::string dir_;
  std::string as_owner_;
};

}  // namespace payorch::ingress::testing
